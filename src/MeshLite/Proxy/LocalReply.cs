using System.Globalization;
using MeshLite.Hops;
using MeshLite.Tracing.Keep;

namespace MeshLite.Proxy;

/// <summary>A response MeshLite makes itself (Envoy's "local reply"): status, response flag, details and a body that names the flag.</summary>
internal static class LocalReply
{
    public static Task WriteAsync(HttpContext context, HopFeature hop, int statusCode, ResponseFlags flag, string details, string message)
    {
        hop.Flags |= flag;
        hop.ResponseCodeDetails = details;
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = "text/plain";
        SidecarResponseHeaders.Apply(response, hop, context.RequestServices?.GetService<TraceKeeper>());
        var body = flag == ResponseFlags.None ? message + "\n" : $"{message} (response_flags: {ResponseFlagNames.Format(flag)})\n";
        return response.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>A gRPC local reply, as Envoy gives one to a gRPC request: HTTP 200, trailers only (<c>grpc-status</c> in the headers).</summary>
    public static Task WriteGrpcAsync(HttpContext context, HopFeature hop, int grpcStatus, ResponseFlags flag, string details)
    {
        hop.Flags |= flag;
        hop.ResponseCodeDetails = details;
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        response.Clear();
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = grpcStatus.ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = details;
        SidecarResponseHeaders.Apply(response, hop, context.RequestServices?.GetService<TraceKeeper>());
        return response.CompleteAsync();
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
