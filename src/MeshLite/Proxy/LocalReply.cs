using System.Globalization;
using MeshLite.Hops;
using MeshLite.Tracing.Keep;

namespace MeshLite.Proxy;

/// <summary>A response MeshLite makes itself (Envoy's "local reply"): status, response flag, details and a body that names the flag.</summary>
internal static class LocalReply
{
    public static Task WriteAsync(HttpContext context, HopFeature hop, int statusCode, ResponseFlags flag, string details, string message)
    {
        if (!Start(context, hop, statusCode, "text/plain", flag, details))
        {
            return Task.CompletedTask;
        }

        var body = flag == ResponseFlags.None ? message + "\n" : $"{message} (response_flags: {ResponseFlagNames.Format(flag)})\n";
        return context.Response.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>A gRPC local reply, as Envoy gives one to a gRPC request: HTTP 200, trailers only (<c>grpc-status</c> in the headers).</summary>
    public static Task WriteGrpcAsync(HttpContext context, HopFeature hop, int grpcStatus, ResponseFlags flag, string details)
    {
        if (!Start(context, hop, StatusCodes.Status200OK, "application/grpc", flag, details))
        {
            return Task.CompletedTask;
        }

        context.Response.Headers["grpc-status"] = grpcStatus.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = details;
        return context.Response.CompleteAsync();
    }

    /// <summary>Records the outcome on the hop and, unless a response has started, begins MeshLite's own; false when one had.</summary>
    private static bool Start(HttpContext context, HopFeature hop, int statusCode, string contentType, ResponseFlags flag, string details)
    {
        hop.Flags |= flag;
        hop.ResponseCodeDetails = details;
        var response = context.Response;
        if (response.HasStarted)
        {
            return false;
        }

        response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = contentType;
        SidecarResponseHeaders.Apply(response, hop, context.RequestServices?.GetService<TraceKeeper>());
        return true;
    }
}

internal static class SidecarResponseHeaders
{
    public const string TraceIdHeader = "x-trace-id";

    /// <summary>Envoy's <c>server</c> header, <c>x-trace-id</c> when asked for, and what deferred keep reads from and writes to a response.</summary>
    public static void Apply(HttpResponse response, HopFeature hop, TraceKeeper? keeper)
    {
        response.Headers.Server = hop.Listener == ListenerKind.Inbound ? "istio-envoy" : "envoy";
        if (hop.ResponseTraceId is { } traceId)
        {
            response.Headers[TraceIdHeader] = traceId;
        }

        keeper?.OnResponse(hop, response);
    }
}
