using System.Diagnostics;
using MeshLite.AccessLog;
using MeshLite.Hops;
using MeshLite.Metrics;
using MeshLite.Tracing;
using Microsoft.AspNetCore.Http.Features;

namespace MeshLite.Proxy;

/// <summary>
/// Runs once per request on the inbound and outbound listeners, after routing: opens the hop record, counts body
/// bytes, exchanges peer metadata and starts tracing (ids, sampling, header writes) before YARP copies the headers,
/// and when the response is done closes the hop for its three observers — the span, the Istio metrics and the access
/// log. Admin, metrics and echo-app requests pass straight through, untraced and uncounted.
/// </summary>
internal sealed class SidecarHopMiddleware
{
    private readonly RequestDelegate _next;
    private readonly HopTracer _tracer;
    private readonly MetadataExchange _metadata;
    private readonly IstioMetrics _metrics;
    private readonly AccessLogWriter _accessLog;
    private readonly TimeProvider _time;

    public SidecarHopMiddleware(RequestDelegate next, HopTracer tracer, MetadataExchange metadata, IstioMetrics metrics, AccessLogWriter accessLog, TimeProvider time)
    {
        _next = next;
        _tracer = tracer;
        _metadata = metadata;
        _metrics = metrics;
        _accessLog = accessLog;
        _time = time;
    }

    public Task Invoke(HttpContext context)
    {
        var listener = context.Features.Get<ListenerFeature>()?.Kind ?? ListenerKind.Admin;
        if (listener is not (ListenerKind.Inbound or ListenerKind.Outbound))
        {
            return _next(context);
        }

        var route = context.GetEndpoint()?.Metadata.GetMetadata<MeshRoute>()
            ?? (listener == ListenerKind.Inbound ? MeshRouteTable.InboundNoRoute : MeshRouteTable.OutboundNoRoute);
        var hop = new HopFeature(listener, route, Stopwatch.GetTimestamp());
        if (_accessLog.Enabled)
        {
            hop.StartTime = _time.GetUtcNow().UtcDateTime;
        }

        context.Features.Set(hop);
        hop.IsGrpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

        var requestBody = new CountingRequestBody(context.Request.Body);
        context.Request.Body = requestBody;
        hop.RequestBody = requestBody;
        if (context.Features.Get<IHttpResponseBodyFeature>() is { } responseBodyFeature)
        {
            var responseBody = new CountingResponseBody(responseBodyFeature);
            context.Features.Set<IHttpResponseBodyFeature>(responseBody);
            hop.ResponseBody = responseBody;
        }

        _metadata.OnRequest(context.Request.Headers, hop);
        _tracer.Start(context, hop);
        return InvokeAsync(context, hop);
    }

    private async Task InvokeAsync(HttpContext context, HopFeature hop)
    {
        try
        {
            await _next(context);
        }
        catch (Exception) when (!context.Response.HasStarted)
        {
            hop.Flags |= ResponseFlags.LocalReset;
            hop.ResponseCodeDetails ??= "internal_error";
            Complete(context, hop, StatusCodes.Status500InternalServerError);
            throw;
        }

        // The client went away, unless the proxy itself aborted it because the upstream failed mid-response (UC/UR).
        if (context.RequestAborted.IsCancellationRequested && hop.Flags == ResponseFlags.None)
        {
            hop.Flags |= ResponseFlags.DownstreamConnectionTermination;
            hop.ResponseCodeDetails ??= "downstream_remote_disconnect";
        }

        var statusCode = (hop.Flags & ResponseFlags.DownstreamConnectionTermination) != 0 && !context.Response.HasStarted
            ? 0
            : context.Response.StatusCode;
        Complete(context, hop, statusCode);
    }

    private void Complete(HttpContext context, HopFeature hop, int statusCode)
    {
        var elapsed = Stopwatch.GetElapsedTime(hop.StartTimestamp);
        _tracer.Finish(context, hop, statusCode);

        var request = context.Request;
        var bodyReceived = hop.RequestBody?.BytesRead ?? 0;
        var bodySent = hop.ResponseBody?.BytesWritten ?? 0;
        var grpcStatus = hop.IsGrpc ? HopTracer.GrpcStatus(context) ?? string.Empty : string.Empty;
        _metrics.Record(hop, request.Host.Value, statusCode, grpcStatus, elapsed.TotalMilliseconds,
            WireBytes.Request(request) + bodyReceived, WireBytes.Response(context.Response) + bodySent);

        if (_accessLog.Enabled)
        {
            var headers = request.Headers;
            var connection = context.Connection;
            _accessLog.Write(new AccessLogEntry(
                hop.StartTime, request.Method, request.PathBase.Value, request.Path.Value, request.QueryString.Value, request.Protocol,
                statusCode, hop.Flags, hop.ResponseCodeDetails, bodyReceived, bodySent, (long)elapsed.TotalMilliseconds, hop.UpstreamServiceTimeMs,
                First(headers["x-forwarded-for"]), First(headers.UserAgent), hop.RequestId, request.Host.Value, hop.UpstreamHost, hop.Route.ClusterName,
                connection.LocalIpAddress, connection.LocalPort, connection.RemoteIpAddress, connection.RemotePort, hop.Route.RouteName,
                hop.TraceId, hop.SpanId, hop.Sampling.Sampled));
        }
    }

    private static string? First(Microsoft.Extensions.Primitives.StringValues values) => values.Count > 0 ? values[0] : null;
}
