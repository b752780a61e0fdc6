using System.Diagnostics;
using MeshLite.AccessLog;
using MeshLite.Hops;
using MeshLite.Lifecycle;
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
internal sealed partial class SidecarHopMiddleware
{
    private readonly RequestDelegate _next;
    private readonly HopTracer _tracer;
    private readonly MetadataExchange _metadata;
    private readonly IstioMetrics _metrics;
    private readonly AccessLogWriter _accessLog;
    private readonly TimeProvider _time;
    private readonly MeshLiteMetrics _health;
    private readonly ILogger<SidecarHopMiddleware> _logger;
    private readonly SidecarState _state;

    public SidecarHopMiddleware(RequestDelegate next, HopTracer tracer, MetadataExchange metadata, IstioMetrics metrics, AccessLogWriter accessLog, TimeProvider time,
        MeshLiteMetrics health, SidecarState state, ILogger<SidecarHopMiddleware> logger)
    {
        _state = state;
        _health = health;
        _logger = logger;
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
        if (_state.Draining && !HttpProtocol.IsHttp2(context.Request.Protocol))
        {
            // As Envoy drains: answer, then close, so the caller's next request opens a connection elsewhere.
            context.Response.OnStarting(static state => { ((HttpResponse)state).Headers.Connection = "close"; return Task.CompletedTask; }, context.Response);
        }

        hop.IsGrpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

        // Kestrel knows when a request has no body (no Content-Length or chunking; END_STREAM on HTTP/2 headers): then
        // there is nothing to count, and its size is 0 without a wrapper.
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != false)
        {
            var requestBody = new CountingRequestBody(context.Request.Body);
            context.Request.Body = requestBody;
            hop.RequestBody = requestBody;
        }
        if (context.Features.Get<IHttpResponseBodyFeature>() is { } responseBodyFeature)
        {
            var responseBody = new CountingResponseBody(responseBodyFeature);
            context.Features.Set<IHttpResponseBodyFeature>(responseBody);
            hop.ResponseBody = responseBody;
        }

        try
        {
            _metadata.OnRequest(context.Request.Headers, hop);
            _tracer.Start(context, hop);
        }
        catch (Exception ex)
        {
            // Whatever a caller sent, reading it must not fail the request: it goes on untraced.
            _health.RecordInternalError("start");
            Log.HopStartFailed(_logger, ex, hop.Listener);
        }

        return InvokeAsync(context, hop);
    }

    private async Task InvokeAsync(HttpContext context, HopFeature hop)
    {
        var statusCode = -1;
        try
        {
            await _next(context);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left (during a fault delay, a local reply, …): there is nobody to answer.
            hop.Flags |= ResponseFlags.DownstreamConnectionTermination;
            hop.ResponseCodeDetails = "downstream_remote_disconnect";
        }
        catch (Exception ex)
        {
            hop.Flags |= ResponseFlags.LocalReset;
            hop.ResponseCodeDetails = "internal_error";
            _health.RecordInternalError("proxy");
            Log.HopFailed(_logger, ex, hop.Listener);
            if (context.Response.HasStarted)
            {
                // Part of a response is out: only a reset tells the client it is incomplete (completion runs in finally).
                statusCode = context.Response.StatusCode;
                throw;
            }

            statusCode = StatusCodes.Status500InternalServerError;
            try
            {
                await LocalReply.WriteAsync(context, hop, statusCode, ResponseFlags.LocalReset, "internal_error", "internal error");
            }
            catch (Exception writeFailure) when (writeFailure is OperationCanceledException or IOException)
            {
                // The client left while it was being answered; the hop is still recorded below.
            }
        }
        finally
        {
            if (statusCode < 0)
            {
                statusCode = OutcomeStatus(context, hop);
            }

            Complete(context, hop, statusCode);
        }
    }

    /// <summary>
    /// The status to record: the response's, or 0 when the client went away before any response started. A client
    /// that closes after a whole response was written did not cut anything short, so that is not <c>DC</c>.
    /// </summary>
    private static int OutcomeStatus(HttpContext context, HopFeature hop)
    {
        if (context.Response.HasStarted)
        {
            return context.Response.StatusCode;
        }

        if (context.RequestAborted.IsCancellationRequested && hop.Flags == ResponseFlags.None)
        {
            hop.Flags |= ResponseFlags.DownstreamConnectionTermination;
            hop.ResponseCodeDetails ??= "downstream_remote_disconnect";
        }

        return (hop.Flags & ResponseFlags.DownstreamConnectionTermination) != 0 ? 0 : context.Response.StatusCode;
    }

    /// <summary>
    /// Hands the finished hop to its observers; called from one <c>finally</c>, so once per hop. Each is isolated: one
    /// that throws is logged and counted, and the others (the break detector's in-flight slot first of all) still run.
    /// </summary>
    private void Complete(HttpContext context, HopFeature hop, int statusCode)
    {
        var elapsed = Stopwatch.GetElapsedTime(hop.StartTimestamp);
        try
        {
            _tracer.Finish(context, hop, statusCode);
        }
        catch (Exception ex)
        {
            ObserverFailed(ex, "tracing");
        }

        var request = context.Request;
        var bodyReceived = hop.RequestBody?.BytesRead ?? 0;
        var bodySent = hop.ResponseBody?.BytesWritten ?? 0;
        try
        {
            var grpcStatus = hop.IsGrpc ? HopTracer.GrpcStatus(context) ?? string.Empty : string.Empty;
            _metrics.Record(hop, request.Host.Value, statusCode, grpcStatus, elapsed.TotalMilliseconds,
                WireBytes.Request(request) + bodyReceived, WireBytes.Response(context.Response) + bodySent);
        }
        catch (Exception ex)
        {
            ObserverFailed(ex, "metrics");
        }

        if (!_accessLog.Enabled)
        {
            return;
        }

        try
        {
            var headers = request.Headers;
            var connection = context.Connection;
            _accessLog.Write(new AccessLogEntry(
                hop.StartTime == default ? _time.GetUtcNow().UtcDateTime - elapsed : hop.StartTime, request.Method, request.PathBase.Value, request.Path.Value, request.QueryString.Value, request.Protocol,
                statusCode, hop.Flags, hop.ResponseCodeDetails, bodyReceived, bodySent, (long)elapsed.TotalMilliseconds, hop.UpstreamServiceTimeMs,
                First(headers["x-forwarded-for"]), First(headers.UserAgent), hop.RequestId, request.Host.Value, hop.UpstreamHost, hop.Route.ClusterName,
                connection.LocalIpAddress, connection.LocalPort, connection.RemoteIpAddress, connection.RemotePort, hop.Route.RouteName,
                hop.TraceId, hop.SpanId, hop.Sampling.Sampled, hop.AttemptCount));
        }
        catch (Exception ex)
        {
            ObserverFailed(ex, "access_log");
        }
    }

    private void ObserverFailed(Exception ex, string observer)
    {
        _health.RecordInternalError(observer);
        Log.ObserverFailed(_logger, ex, observer);
    }

    private static string? First(Microsoft.Extensions.Primitives.StringValues values) => values.Count > 0 ? values[0] : null;

    private static partial class Log
    {
        [LoggerMessage(EventId = 110, Level = LogLevel.Error, EventName = "HopStartFailed",
            Message = "Reading the trace context or peer metadata of a request on the {listener} listener failed; the request goes on untraced.")]
        public static partial void HopStartFailed(ILogger logger, Exception exception, ListenerKind listener);

        [LoggerMessage(EventId = 111, Level = LogLevel.Error, EventName = "HopFailed",
            Message = "A request on the {listener} listener failed inside MeshLite (LR).")]
        public static partial void HopFailed(ILogger logger, Exception exception, ListenerKind listener);

        [LoggerMessage(EventId = 112, Level = LogLevel.Error, EventName = "HopObserverFailed",
            Message = "Recording a finished request failed in '{observer}'; the other observers still ran.")]
        public static partial void ObserverFailed(ILogger logger, Exception exception, string observer);
    }
}
