using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Propagation;
using MeshLite.Tracing.Sampling;

namespace MeshLite.Tracing;

/// <summary>
/// What Envoy's HTTP connection manager does for tracing when a request arrives, per listener: keep or create
/// <c>x-request-id</c>, take the operation name, extract the caller's context, honour forcing, decide sampling (with
/// the break detector's stitch when the app lost the context), start one SERVER (inbound) or CLIENT (outbound) span
/// when sampled, and write the ids toward the next hop in every configured format. An unsampled request gets header
/// writes only — no span, no tag strings. The span is tagged and ended by <see cref="SpanTagger"/>.
/// </summary>
internal sealed partial class HopTracer
{
    private readonly ILogger<HopTracer> _logger;
    private readonly MeshLiteMetrics _metrics;
    private readonly BreakClassifier _breaks;
    private readonly BreakReports _reports;
    private readonly LiveTracingPolicy _policy;

    public HopTracer(LiveTracingPolicy policy, MeshLiteMetrics metrics, BreakClassifier breaks, BreakReports reports, ILogger<HopTracer> logger)
    {
        _policy = policy;
        _metrics = metrics;
        _breaks = breaks;
        _reports = reports;
        _logger = logger;
    }

    public void Start(HttpContext context, HopFeature hop)
    {
        var policy = _policy.Current;
        var request = context.Request;
        var headers = request.Headers;
        var inbound = hop.Listener == ListenerKind.Inbound;

        var incomingRequestId = headers[TraceHeaders.RequestId];
        var requestId = incomingRequestId.Count > 0 ? incomingRequestId[0] : null;
        var generated = string.IsNullOrEmpty(requestId);
        if (generated)
        {
            requestId = RequestId.Generate();
        }

        hop.OperationName = OperationName(hop, request);
        if (!policy.Enabled || (inbound && policy.IsExcluded(request.Path.Value)))
        {
            hop.Sampling = new SamplingDecision(false, SamplingReason.Excluded);
            _metrics.RecordDecision(hop.Sampling);
            hop.RequestId = requestId!;
            if (generated)
            {
                headers[TraceHeaders.RequestId] = requestId;
            }

            return;
        }

        var parent = TraceContextExtractor.Extract(headers, out var invalid, out var present);
        if (invalid != TraceFormat.None)
        {
            _metrics.RecordInvalid(invalid);
            LogInvalidContext(hop, invalid);
        }

        var (clientForced, serviceForced) = Forcing(headers, inbound, policy);
        var numerator = inbound
            ? policy.Sampler.InboundNumerator(request.Path.Value ?? "/", request.Method, out var overridden)
            : policy.Sampler.OutboundNumerator(hop.Route.ServiceName, out overridden);

        var verdict = default(BreakVerdict);
        var stitch = default(Stitch);
        if (!inbound)
        {
            verdict = _breaks.Classify(headers, parent, generated ? null : requestId);
            stitch = _breaks.Stitch(verdict);
            if (stitch.Parent is { } cause)
            {
                // Heal the break: continue the trace of the request the app was serving, as if it had forwarded it.
                parent = new ParentContext(cause.TraceId, cause.SpanId, cause.Sampling.Sampled ? SamplingState.Sampled : SamplingState.NotSampled, TraceFormat.None, false);
                if (generated)
                {
                    requestId = cause.RequestId;
                }
            }
        }

        var traceId = parent.HasIds ? parent.TraceId : TraceIdentifier.CreateRandom();
        if (!policy.UseRequestIdForSampling || !RequestId.TryGetSamplingValue(requestId, out var draw))
        {
            draw = DrawFromTraceId(traceId);
        }

        var reasonInRequestId = RequestId.ReadReason(requestId);
        var decision = TraceSampler.Decide(parent.Sampled, reasonInRequestId, draw, clientForced, serviceForced, numerator, overridden);
        if (decision is { Sampled: true, Reason: SamplingReason.RandomHit or SamplingReason.Override } && policy.RateLimiter?.TryAcquire() == false)
        {
            // A new trace of this sidecar's own draw, over Tracing:MaxTracesPerSecond. Callers' and forced traces are never refused.
            decision = new SamplingDecision(false, SamplingReason.RateLimited);
        }

        var span = decision.Sampled && policy.ReportSpans ? StartSpan(hop, inbound, traceId, parent, verdict, stitch) : null;
        _metrics.RecordDecision(decision);

        var spanId = span is null ? SpanIdentifier.CreateRandom() : SpanIdentifier.From(span.SpanId);
        var sampled = decision.Sampled
            ? parent.Sampled == SamplingState.Debug ? SamplingState.Debug : SamplingState.Sampled
            : SamplingState.NotSampled;

        TraceContextInjector.Inject(headers, present, policy.Inject | parent.Format, traceId, parent.ShortTraceId, spanId, parent.HasIds ? parent.SpanId : default, sampled,
            dropTraceState: (invalid & TraceFormat.W3C) != 0);

        var reason = !decision.Sampled ? RequestId.NotTraceable : decision.Reason switch
        {
            SamplingReason.ClientForced => RequestId.ClientForced,
            SamplingReason.ServiceForced => RequestId.ServiceForced,
            _ => reasonInRequestId == RequestId.NotTraceable ? RequestId.Sampled : reasonInRequestId,
        };
        var finalRequestId = RequestId.WithReason(requestId!, reason);
        if (generated || !ReferenceEquals(finalRequestId, requestId))
        {
            headers[TraceHeaders.RequestId] = finalRequestId;
        }

        if (hop.Route.Kind == MeshRouteKind.Registry)
        {
            headers[TraceHeaders.DecoratorOperation] = hop.OperationName;
        }

        hop.RequestId = finalRequestId;
        hop.Sampling = decision;
        hop.TraceId = traceId;
        hop.SpanId = spanId;
        hop.ParentSpanId = parent.HasIds ? parent.SpanId : default;
        hop.Span = span;
        if (verdict.IsBreak)
        {
            hop.PropagationBreak = BreakVerdict.Name(verdict.Kind);
            hop.BreakConfidence = verdict.Confidence;
        }
        if (inbound)
        {
            hop.InboundMethod = request.Method;
            hop.InboundPath = request.Path.Value;
            _breaks.OnInboundStart(hop);
        }
        else
        {
            _reports.Record(hop, verdict, finalRequestId);
        }

        if (policy.ResponseTraceHeader)
        {
            hop.ResponseTraceId = traceId.ToString();
        }
    }

    /// <summary>
    /// The span name: inbound, the caller's <c>x-envoy-decorator-operation</c> (consumed here, never shown to the app)
    /// or the route's; outbound, the route's, or the host for passthrough.
    /// </summary>
    private static string OperationName(HopFeature hop, HttpRequest request)
    {
        if (hop.Listener != ListenerKind.Inbound)
        {
            return hop.Route.OperationName ?? (request.Host.HasValue ? request.Host.Value : "-");
        }

        var headers = request.Headers;
        var decorator = headers[TraceHeaders.DecoratorOperation];
        headers.Remove(TraceHeaders.DecoratorOperation);
        return decorator.Count == 1 && !string.IsNullOrEmpty(decorator[0]) ? decorator[0]! : hop.Route.OperationName!;
    }

    /// <summary>Envoy's forced tracing: <c>x-client-trace-id</c>, and <c>x-envoy-force-trace</c> (trusted from outside only when configured).</summary>
    private static (bool Client, bool Service) Forcing(IHeaderDictionary headers, bool inbound, TracingPolicy policy)
    {
        var client = headers.TryGetValue(TraceHeaders.ClientTraceId, out var clientTraceId) && !string.IsNullOrEmpty(clientTraceId[0]);
        var service = false;
        if (headers.ContainsKey(TraceHeaders.ForceTrace))
        {
            service = !inbound || policy.TrustForceTrace;
            if (!service)
            {
                // As Envoy does for requests from outside: an untrusted force header is removed, not forwarded.
                headers.Remove(TraceHeaders.ForceTrace);
            }
        }

        return (client, service);
    }

    /// <summary>The hop's span, its parent always explicit: the caller's span, or none (a new root in a trace id we chose).</summary>
    private Activity? StartSpan(HopFeature hop, bool inbound, TraceIdentifier traceId, in ParentContext parent, in BreakVerdict verdict, in Stitch stitch)
    {
        Activity.Current = null;
        var parentContext = new ActivityContext(traceId.ToActivityTraceId(), parent.HasIds ? parent.SpanId.ToActivitySpanId() : default, ActivityTraceFlags.Recorded, isRemote: parent.HasIds);
        var span = MeshLiteTelemetry.Source.StartActivity(hop.OperationName, inbound ? ActivityKind.Server : ActivityKind.Client, parentContext, links: stitch.Links);
        if (span is null)
        {
            return null;
        }

        _metrics.SpansStarted.Inc();
        if (verdict.IsBreak)
        {
            span.SetTag(MeshLiteTelemetry.Tags.Propagation, BreakVerdict.Name(verdict.Kind));
            span.SetTag(MeshLiteTelemetry.Tags.StitchConfidence, verdict.Confidence);
            if (stitch.Parent is not null)
            {
                span.SetTag(MeshLiteTelemetry.Tags.Stitched, "parent");
            }
        }

        if (parent.Format != TraceFormat.None)
        {
            span.SetTag(MeshLiteTelemetry.Tags.TraceContextFormat, TraceFormats.Name(parent.Format));
        }

        return span;
    }

    /// <summary>When x-request-id is not hex, draw from the trace id instead, which every hop of the trace also sees.</summary>
    private static int DrawFromTraceId(TraceIdentifier traceId) => (int)((uint)traceId.Low % 10000);

    private void LogInvalidContext(HopFeature hop, TraceFormat invalid)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.InvalidTraceContext(_logger, invalid, hop.Listener);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 201, Level = LogLevel.Debug, EventName = "InvalidTraceContext",
            Message = "Ignored malformed trace context '{formats}' on the {listener} listener; it was not forwarded.")]
        public static partial void InvalidTraceContext(ILogger logger, TraceFormat formats, ListenerKind listener);
    }
}
