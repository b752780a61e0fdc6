using System.Diagnostics;
using System.Net;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Lifecycle;
using MeshLite.Peers;
using MeshLite.Routing;
using MeshLite.Tracing;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// Everything a request on the inbound or outbound listener goes through, in one place: the hop begins (route chosen
/// from the configuration version in effect, ids and sampling, peer metadata), is proxied (local replies, faults,
/// least-request balancing, YARP's <see cref="IHttpForwarder"/>, Envoy's outcome for its errors), and completes once,
/// in a <c>finally</c>, by handing the finished hop to its observers. No endpoint routing and no YARP pipeline steps:
/// the listener has already said what the request is.
/// </summary>
internal sealed partial class HopPipeline
{
    private readonly IHttpForwarder _forwarder;
    private readonly HttpTransformer _transformer;
    private readonly LiveUpstreams _upstreams;
    private readonly MeshLiteSettings _settings;
    private readonly HopTracer _tracer;
    private readonly MetadataExchange _metadata;
    private readonly IHopObserver[] _observers;
    private readonly TimeProvider _time;
    private readonly MeshLiteMetrics _health;
    private readonly SidecarState _state;
    private readonly ILogger<HopPipeline> _logger;

    public HopPipeline(IHttpForwarder forwarder, HttpTransformer transformer, LiveUpstreams upstreams, MeshLiteSettings settings,
        HopTracer tracer, MetadataExchange metadata, IEnumerable<IHopObserver> observers, TimeProvider time, MeshLiteMetrics health,
        SidecarState state, ILogger<HopPipeline> logger)
    {
        _forwarder = forwarder;
        _transformer = transformer;
        _upstreams = upstreams;
        _settings = settings;
        _tracer = tracer;
        _metadata = metadata;
        _observers = [.. observers];
        _time = time;
        _health = health;
        _state = state;
        _logger = logger;
    }

    public Task Invoke(HttpContext context, ListenerKind listener)
    {
        var upstreams = _upstreams.Current;
        var routes = upstreams.Routes;
        RouteRule? rule = null;
        MeshRoute route;
        if (listener == ListenerKind.Inbound)
        {
            route = routes.Inbound;
        }
        else
        {
            route = routes.Outbound(context.Request.Host);
            if (routes.RulesOf(route) is { } rules)
            {
                // A VirtualService for this host: its first matching rule chooses the destination; none is Envoy's 404 NR.
                rule = RouteRule.FirstMatch(rules, context.Request, out var matchedPrefix);
                route = rule?.PickDestination() ?? RouteTable.NoRoute;
                if (rule is { Transforms: true })
                {
                    context.Features.Set(new RoutedRequest(rule, matchedPrefix));
                }
            }
        }

        var hop = Begin(context, listener, route);
        return ProxyAndCompleteAsync(context, hop, upstreams, rule);
    }

    private HopFeature Begin(HttpContext context, ListenerKind listener, MeshRoute route)
    {
        var hop = new HopFeature(listener, route, Stopwatch.GetTimestamp());
        if (WantsStartTime())
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

        return hop;
    }

    /// <summary>Whether an observer reads the wall-clock start (the access log, when it is on).</summary>
    private bool WantsStartTime()
    {
        foreach (var observer in _observers)
        {
            if (observer.WantsStartTime)
            {
                return true;
            }
        }

        return false;
    }

    private async Task ProxyAndCompleteAsync(HttpContext context, HopFeature hop, UpstreamClusters upstreams, RouteRule? rule)
    {
        var statusCode = -1;
        UpstreamEndpoint? endpoint = null;
        try
        {
            // One state machine per hop: the forwarder is awaited here; only local replies and faults take another path.
            if (Prepare(context, hop, upstreams, rule, out var cluster, out endpoint, out var destination) is { } reply)
            {
                await reply;
            }
            else
            {
                var error = await _forwarder.SendAsync(context, destination!, cluster!.Client, rule?.RequestConfig ?? cluster.RequestConfig, _transformer);
                if (error != ForwarderError.None)
                {
                    await OnForwarderErrorAsync(context, hop, error);
                }
            }
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
            endpoint?.Leave();
            Complete(context, hop, statusCode < 0 ? OutcomeStatus(context, hop) : statusCode);
        }
    }

    /// <summary>
    /// What the route and the request ask for: a local reply or Istio's faults (the task returned), or forwarding now
    /// (null, with the cluster, the endpoint — already counted as in flight — and the destination prefix).
    /// </summary>
    private Task? Prepare(HttpContext context, HopFeature hop, UpstreamClusters upstreams, RouteRule? rule, out UpstreamCluster? cluster,
        out UpstreamEndpoint? endpoint, out string? destination)
    {
        cluster = null;
        endpoint = null;
        destination = null;
        var route = hop.Route;
        switch (route.Kind)
        {
            case MeshRouteKind.BlackHole:
                return LocalReply.WriteAsync(context, hop, StatusCodes.Status502BadGateway, ResponseFlags.None, "direct_response",
                    $"BlackHoleCluster: '{context.Request.Host.Value}' is not in the service registry and MeshLite:OutboundTrafficPolicy is REGISTRY_ONLY");
            case MeshRouteKind.NoRoute:
                return LocalReply.WriteAsync(context, hop, StatusCodes.Status404NotFound, ResponseFlags.NoRouteFound, "route_not_found",
                    $"route not found: no rule of the VirtualService for '{context.Request.Host.Value}' matches {context.Request.Method} {context.Request.Path.Value}");
            case MeshRouteKind.Passthrough when IsLoopOrEmpty(context):
                return LocalReply.WriteAsync(context, hop, StatusCodes.Status404NotFound, ResponseFlags.NoRouteFound, "route_not_found",
                    $"route not found: '{context.Request.Host.Value}' is not a destination MeshLite can route to");
        }

        if (_settings.Options.Limits.MaxRequestBodySize is long limit && context.Request.ContentLength > limit)
        {
            return LocalReply.WriteAsync(context, hop, StatusCodes.Status413PayloadTooLarge, ResponseFlags.None, "request_payload_too_large", "Payload Too Large");
        }

        cluster = upstreams.For(route);
        if (cluster is null)
        {
            return NoHealthyUpstream(context, hop);
        }

        // Faults as Envoy places them: MeshLite:Fault on the way to the local app, a VirtualService rule's on the caller's side.
        var fault = route.Kind == MeshRouteKind.Inbound ? upstreams.Routes.InboundFault : rule?.Fault;
        if (fault is not null)
        {
            return FaultThenForwardAsync(context, hop, cluster, fault, rule);
        }

        return Destination(context, hop, cluster, rule, out endpoint, out destination) ? null : NoHealthyUpstream(context, hop);
    }

    /// <summary>Where the request goes: passthrough to its own Host; otherwise the least-loaded endpoint, counted as in flight until the hop ends.</summary>
    private static bool Destination(HttpContext context, HopFeature hop, UpstreamCluster cluster, RouteRule? rule, out UpstreamEndpoint? endpoint, out string? destination)
    {
        endpoint = null;
        if (hop.Route.Kind == MeshRouteKind.Passthrough)
        {
            var host = context.Request.Host.Value!;
            destination = "http://" + host;
            hop.UpstreamHost = host;
            return true;
        }

        endpoint = cluster.Pick();
        if (endpoint is null)
        {
            destination = null;
            return false;
        }

        destination = endpoint.Address;
        hop.UpstreamHost = endpoint.Authority;
        if ((rule is null ? cluster.Policy : rule.Policy) is { } policy)
        {
            context.Features.Set(cluster);
            context.Features.Set(policy);
        }

        endpoint.Enter();
        return true;
    }

    private static Task NoHealthyUpstream(HttpContext context, HopFeature hop) =>
        LocalReply.WriteAsync(context, hop, StatusCodes.Status503ServiceUnavailable, ResponseFlags.NoHealthyUpstream, "no_healthy_upstream", "no healthy upstream");

    /// <summary>Istio's fault injection, as Envoy's fault filter applies it: the delay first, then the abort (never retried: it never reaches the router).</summary>
    private async Task FaultThenForwardAsync(HttpContext context, HopFeature hop, UpstreamCluster cluster, FaultPolicy fault, RouteRule? rule)
    {
        if (fault.DelayFires())
        {
            hop.Flags |= ResponseFlags.DelayInjected;
            await Task.Delay(fault.Delay, context.RequestAborted);
        }

        if (fault.AbortFires())
        {
            await (fault.GrpcStatus is int grpcStatus
                ? LocalReply.WriteGrpcAsync(context, hop, grpcStatus, ResponseFlags.FaultInjected, "fault_filter_abort")
                : LocalReply.WriteAsync(context, hop, fault.HttpStatus, ResponseFlags.FaultInjected, "fault_filter_abort", "fault filter abort"));
            return;
        }

        if (!Destination(context, hop, cluster, rule, out var endpoint, out var destination))
        {
            await NoHealthyUpstream(context, hop);
            return;
        }

        try
        {
            var error = await _forwarder.SendAsync(context, destination!, cluster.Client, rule?.RequestConfig ?? cluster.RequestConfig, _transformer);
            if (error != ForwarderError.None)
            {
                await OnForwarderErrorAsync(context, hop, error);
            }
        }
        finally
        {
            endpoint?.Leave();
        }
    }

    private static Task OnForwarderErrorAsync(HttpContext context, HopFeature hop, ForwarderError error)
    {
        var (status, flag, details, message) = ForwarderOutcome.Classify(error, context.Features.Get<IForwarderErrorFeature>()?.Exception, context.Response.HasStarted);
        if (flag == ResponseFlags.DownstreamConnectionTermination || context.Response.HasStarted)
        {
            hop.Flags |= flag;
            hop.ResponseCodeDetails = details;
            return Task.CompletedTask;
        }

        return LocalReply.WriteAsync(context, hop, status, flag, details, message);
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
        hop.StatusCode = statusCode;
        hop.Duration = Stopwatch.GetElapsedTime(hop.StartTimestamp);
        if (hop.IsGrpc)
        {
            hop.GrpcStatus = GrpcStatus(context);
        }

        foreach (var observer in _observers)
        {
            try
            {
                observer.OnHopCompleted(hop, context);
            }
            catch (Exception ex)
            {
                _health.RecordInternalError(observer.Stage);
                Log.ObserverFailed(_logger, ex, observer.Stage);
            }
        }
    }

    private static string? GrpcStatus(HttpContext context)
    {
        var trailers = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        if (trailers is not null && trailers.TryGetValue("grpc-status", out var fromTrailers))
        {
            return fromTrailers.ToString();
        }

        return context.Response.Headers.TryGetValue("grpc-status", out var fromHeaders) ? fromHeaders.ToString() : null;
    }

    /// <summary>A passthrough request whose Host is this sidecar's own outbound listener (or none) would loop.</summary>
    private bool IsLoopOrEmpty(HttpContext context)
    {
        var host = context.Request.Host;
        if (!host.HasValue)
        {
            return true;
        }

        var port = host.Port ?? 80;
        if (port != context.Connection.LocalPort && port != _settings.Options.Outbound.Port)
        {
            return false;
        }

        var name = host.Host;
        return string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)
            || string.Equals(name, _settings.PodIp, StringComparison.Ordinal)
            || (IPAddress.TryParse(name.Trim('[', ']'), out var ip) && (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(context.Connection.LocalIpAddress)));
    }

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
