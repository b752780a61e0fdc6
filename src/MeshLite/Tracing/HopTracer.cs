using System.Diagnostics;
using System.Globalization;
using System.Net;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Propagation;
using MeshLite.Tracing.Sampling;
using Tag = MeshLite.Tracing.MeshLiteTelemetry.Tags;
using MeshLite.Diagnostics;

namespace MeshLite.Tracing;

/// <summary>
/// What Envoy's HTTP connection manager does for tracing, per request and per listener: keep or create
/// <c>x-request-id</c>, extract the caller's context, decide sampling, start one SERVER (inbound) or CLIENT (outbound)
/// span when sampled, write the span's ids toward the next hop in every configured format, and at the end tag the
/// span as Envoy and Istio tag theirs. An unsampled request gets header writes only — no span, no tag strings.
/// </summary>
internal sealed partial class HopTracer : IHopObserver
{
    private readonly MeshLiteSettings _settings;
    private readonly ILogger<HopTracer> _logger;
    private readonly MeshLiteMetrics _metrics;
    private readonly PropagationBreaks _breaks;
    private volatile TracingPolicy _policy;
    private PeerAddressText? _lastPeer;

    public HopTracer(LiveSettings live, MeshLiteMetrics metrics, PropagationBreaks breaks, ILogger<HopTracer> logger)
    {
        _breaks = breaks;
        _metrics = metrics;
        _settings = live.Current;
        _logger = logger;
        _policy = new TracingPolicy(_settings.Options.Tracing);
        live.Changed += settings => _policy = new TracingPolicy(settings.Options.Tracing);
    }

    public void Start(HttpContext context, HopFeature hop)
    {
        var policy = _policy;
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

        if (inbound)
        {
            var decorator = headers[TraceHeaders.DecoratorOperation];
            hop.OperationName = decorator.Count == 1 && !string.IsNullOrEmpty(decorator[0]) ? decorator[0]! : hop.Route.OperationName!;
            headers.Remove(TraceHeaders.DecoratorOperation);
        }
        else
        {
            hop.OperationName = hop.Route.OperationName ?? (request.Host.HasValue ? request.Host.Value : "-");
        }

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

        var clientForced = headers.TryGetValue(TraceHeaders.ClientTraceId, out var clientTraceId) && !string.IsNullOrEmpty(clientTraceId[0]);
        var serviceForced = false;
        if (headers.ContainsKey(TraceHeaders.ForceTrace))
        {
            serviceForced = !inbound || policy.TrustForceTrace;
            if (!serviceForced)
            {
                // As Envoy does for requests from outside: an untrusted force header is removed, not forwarded.
                headers.Remove(TraceHeaders.ForceTrace);
            }
        }

        var numerator = inbound
            ? policy.Sampler.InboundNumerator(request.Path.Value ?? "/", request.Method, out var overridden)
            : policy.Sampler.OutboundNumerator(hop.Route.ServiceName, out overridden);

        var verdict = default(BreakVerdict);
        ActivityLink[]? links = null;
        var stitched = false;
        if (!inbound)
        {
            verdict = _breaks.Classify(headers, parent, generated ? null : requestId);
            if (verdict.IsBreak && verdict.Kind != BreakKind.Partial && verdict.Candidate is { } cause)
            {
                if (_breaks.Mode == StitchMode.Parent && verdict.Confidence == "certain")
                {
                    // Heal the break: continue the trace of the request the app was serving, as if it had forwarded it.
                    parent = new ParentContext(cause.TraceId, cause.SpanId, cause.Sampling.Sampled ? SamplingState.Sampled : SamplingState.NotSampled, TraceFormat.None, false);
                    if (generated)
                    {
                        requestId = cause.RequestId;
                    }

                    stitched = true;
                }
                else if (_breaks.Mode != StitchMode.Off)
                {
                    links = [new ActivityLink(new ActivityContext(cause.TraceId.ToActivityTraceId(), cause.SpanId.ToActivitySpanId(), cause.Sampling.Sampled ? ActivityTraceFlags.Recorded : ActivityTraceFlags.None))];
                }
            }
        }

        var traceId = parent.HasIds ? parent.TraceId : TraceIdentifier.CreateRandom();
        if (!RequestId.TryGetSamplingValue(requestId, out var draw))
        {
            draw = DrawFromTraceId(traceId);
        }

        var reasonInRequestId = RequestId.ReadReason(requestId);
        var decision = TraceSampler.Decide(parent.Sampled, reasonInRequestId, draw, clientForced, serviceForced, numerator, overridden);

        Activity? span = null;
        if (decision.Sampled)
        {
            // The parent is always explicit: the caller's span, or none (a new root in a trace id we chose).
            Activity.Current = null;
            var parentContext = new ActivityContext(traceId.ToActivityTraceId(), parent.HasIds ? parent.SpanId.ToActivitySpanId() : default, ActivityTraceFlags.Recorded, isRemote: parent.HasIds);
            span = MeshLiteTelemetry.Source.StartActivity(hop.OperationName, inbound ? ActivityKind.Server : ActivityKind.Client, parentContext, links: links);
            if (span is not null)
            {
                _metrics.SpansStarted.Inc();
                if (verdict.IsBreak)
                {
                    span.SetTag(MeshLiteTelemetry.Tags.Propagation, BreakVerdict.Name(verdict.Kind));
                    span.SetTag(MeshLiteTelemetry.Tags.StitchConfidence, verdict.Confidence);
                    if (stitched)
                    {
                        span.SetTag(MeshLiteTelemetry.Tags.Stitched, "parent");
                    }
                }

                if (parent.Format != TraceFormat.None)
                {
                    span.SetTag(MeshLiteTelemetry.Tags.TraceContextFormat, TraceFormats.Name(parent.Format));
                }
            }
        }

        _metrics.RecordDecision(decision);

        var spanId = span is null ? SpanIdentifier.CreateRandom() : SpanIdentifier.From(span.SpanId);
        var sampled = decision.Sampled
            ? parent.Sampled == SamplingState.Debug ? SamplingState.Debug : SamplingState.Sampled
            : SamplingState.NotSampled;

        Inject(headers, present, policy.Inject | parent.Format, traceId, parent.ShortTraceId, spanId, parent.HasIds ? parent.SpanId : default, sampled,
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
        hop.Span = span;
        if (inbound)
        {
            hop.InboundMethod = request.Method;
            hop.InboundPath = request.Path.Value;
            _breaks.OnInboundStart(hop);
        }
        else
        {
            _breaks.Record(hop, verdict, finalRequestId);
        }

        if (policy.ResponseTraceHeader)
        {
            hop.ResponseTraceId = traceId.ToString();
        }
    }

    /// <summary>Writes the new span's ids in every format asked for, after removing the trace headers that arrived (<paramref name="present"/>).</summary>
    internal static void Inject(IHeaderDictionary headers, TraceFormat present, TraceFormat formats, TraceIdentifier traceId, bool shortTraceId,
        SpanIdentifier spanId, SpanIdentifier parentSpanId, SamplingState sampled, bool dropTraceState)
    {
        if ((present & TraceFormat.W3C) != 0)
        {
            headers.Remove(TraceHeaders.TraceParent);
        }

        if ((present & TraceFormat.B3Single) != 0)
        {
            headers.Remove(TraceHeaders.B3);
        }

        if ((present & TraceFormat.B3Multi) != 0)
        {
            headers.Remove(TraceHeaders.B3TraceId);
            headers.Remove(TraceHeaders.B3SpanId);
            headers.Remove(TraceHeaders.B3ParentSpanId);
            headers.Remove(TraceHeaders.B3Sampled);
            headers.Remove(TraceHeaders.B3Flags);
        }
        if (dropTraceState)
        {
            // tracestate belongs to the traceparent it came with; that one was invalid and is gone.
            headers.Remove(TraceHeaders.TraceState);
        }

        var isSampled = sampled != SamplingState.NotSampled;
        if ((formats & TraceFormat.W3C) != 0)
        {
            headers[TraceHeaders.TraceParent] = W3CTraceContext.Format(traceId, spanId, isSampled);
        }

        if ((formats & TraceFormat.B3Multi) != 0)
        {
            headers[TraceHeaders.B3TraceId] = B3Propagation.FormatTraceId(traceId, shortTraceId);
            headers[TraceHeaders.B3SpanId] = B3Propagation.FormatSpanId(spanId);
            if (!parentSpanId.IsEmpty)
            {
                headers[TraceHeaders.B3ParentSpanId] = B3Propagation.FormatSpanId(parentSpanId);
            }

            if (sampled == SamplingState.Debug)
            {
                headers[TraceHeaders.B3Flags] = "1";
            }
            else
            {
                headers[TraceHeaders.B3Sampled] = isSampled ? "1" : "0";
            }
        }

        if ((formats & TraceFormat.B3Single) != 0)
        {
            headers[TraceHeaders.B3] = B3Propagation.FormatSingle(traceId, shortTraceId, spanId, sampled, parentSpanId);
        }
    }

    public string Stage => "tracing";

    public bool WantsStartTime => false;

    public void OnHopCompleted(HopFeature hop, HttpContext context) => Finish(context, hop, hop.StatusCode);

    /// <summary>Tags and ends the span, once the response is done.</summary>
    public void Finish(HttpContext context, HopFeature hop, int statusCode)
    {
        if (hop.InflightSlot >= 0)
        {
            _breaks.OnInboundEnd(hop);
        }

        var span = hop.Span;
        if (span is null)
        {
            return;
        }

        var policy = _policy;
        var request = context.Request;
        if (!string.Equals(span.DisplayName, hop.OperationName, StringComparison.Ordinal))
        {
            span.DisplayName = hop.OperationName;
        }

        span.AddTag(Tag.NodeId, _settings.NodeId);
        if (_settings.Options.Zone is { Length: > 0 } zone)
        {
            span.AddTag(Tag.Zone, zone);
        }

        span.AddTag(Tag.RequestId, hop.RequestId);
        if (request.Headers.TryGetValue(TraceHeaders.ClientTraceId, out var clientTraceId) && !string.IsNullOrEmpty(clientTraceId[0]))
        {
            span.AddTag(Tag.ClientTraceId, clientTraceId[0]);
        }

        span.AddTag(Tag.HttpUrl, HttpUrl(request, policy.MaxPathTagLength));
        span.AddTag(Tag.HttpMethod, request.Method);
        span.AddTag(Tag.HttpProtocol, ProtocolTag(request.Protocol));
        var userAgent = request.Headers.UserAgent;
        span.AddTag(Tag.UserAgent, userAgent.Count > 0 && !string.IsNullOrEmpty(userAgent[0]) ? userAgent[0] : "-");
        span.AddTag(Tag.PeerAddress, PeerAddress(context.Connection.RemoteIpAddress));
        span.AddTag(Tag.RequestSize, hop.BytesReceived.ToString(CultureInfo.InvariantCulture));
        span.AddTag(Tag.ResponseSize, hop.BytesSent.ToString(CultureInfo.InvariantCulture));
        span.AddTag(Tag.Component, "proxy");
        if (hop.Route.ClusterName is { } cluster)
        {
            span.AddTag(Tag.UpstreamCluster, cluster);
            span.AddTag(Tag.UpstreamClusterName, hop.Route.ClusterObservabilityName);
        }

        span.AddTag(Tag.HttpStatusCode, StatusCodeTag(statusCode));
        span.AddTag(Tag.ResponseFlags, ResponseFlagNames.Format(hop.Flags));
        span.AddTag(Tag.DownstreamCluster, "-");
        span.AddTag(Tag.CanonicalService, _settings.ServiceName);
        span.AddTag(Tag.CanonicalRevision, _settings.Options.CanonicalRevision);
        span.AddTag(Tag.MeshId, _settings.Options.MeshId);
        span.AddTag(Tag.Namespace, _settings.Namespace);
        span.AddTag(Tag.ClusterId, _settings.Options.ClusterId);
        span.AddTag(Tag.SamplingReason, SamplingDecision.ReasonName(hop.Sampling.Reason));

        var grpcError = false;
        if (hop.IsGrpc)
        {
            span.AddTag(Tag.GrpcPath, request.Path.Value);
            if (hop.GrpcStatus is { } grpcStatus)
            {
                span.AddTag(Tag.GrpcStatusCode, grpcStatus);
                grpcError = grpcStatus is "2" or "4" or "8" or "12" or "13" or "14" or "15";
            }
        }

        if (hop.AttemptCount > 1)
        {
            // OpenTelemetry's name for it, and Envoy's (%UPSTREAM_REQUEST_ATTEMPT_COUNT%); each retry is an event with its reason.
            span.AddTag(Tag.ResendCount, (hop.AttemptCount - 1).ToString(CultureInfo.InvariantCulture));
            span.AddTag(Tag.UpstreamAttemptCount, hop.AttemptCount.ToString(CultureInfo.InvariantCulture));
            if (hop.RetryReasons is { } reasons)
            {
                for (var i = 0; i < reasons.Count; i++)
                {
                    span.AddEvent(new ActivityEvent("retry", tags: new ActivityTagsCollection
                    {
                        [Tag.RetryAttempt] = i + 1,
                        [Tag.RetryReason] = reasons[i],
                    }));
                }
            }
        }

        if (policy.CustomTags.Count > 0)
        {
            policy.CustomTags.Apply(request.Headers, span, static (s, key, value) => s.AddTag(key, value));
        }

        if (statusCode == 0 || statusCode >= 500 || grpcError)
        {
            span.AddTag(Tag.Error, "true");
            span.SetStatus(ActivityStatusCode.Error);
        }

        span.Stop();
    }

    internal static string HttpUrl(HttpRequest request, int maxPathLength)
    {
        var path = string.Concat(request.PathBase.Value, request.Path.Value, request.QueryString.Value);
        if (path.Length > maxPathLength)
        {
            path = path[..maxPathLength];
        }

        return string.Concat(request.Scheme, "://", request.Host.Value, path);
    }

    /// <summary>A sidecar's peers are few (often only 127.0.0.1): the last address's text is kept rather than formatted per span.</summary>
    private string? PeerAddress(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        var last = _lastPeer;
        if (last is not null && last.Address.Equals(address))
        {
            return last.Text;
        }

        var text = address.ToString();
        _lastPeer = new PeerAddressText(address, text);
        return text;
    }

    private sealed record PeerAddressText(IPAddress Address, string Text);

    internal static string ProtocolTag(string protocol) => protocol switch
    {
        "HTTP/1.0" => "HTTP/1.0",
        "HTTP/1.1" => "HTTP/1.1",
        "HTTP/2" => "HTTP/2",
        "HTTP/3" => "HTTP/3",
        _ => "-",
    };

    private static string StatusCodeTag(int statusCode) => statusCode switch
    {
        200 => "200",
        0 => "0",
        _ => statusCode.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>When x-request-id is not hex, draw from the trace id instead, which every hop of the trace also sees.</summary>
    private static int DrawFromTraceId(TraceIdentifier traceId) => (int)((uint)traceId.Low % 10000);

    private void LogInvalidContext(HopFeature hop, TraceFormat invalid)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.InvalidTraceContext(_logger, invalid, hop.Listener);
        }
    }

    /// <summary>Everything tracing takes from one configuration version; replaced whole when a reload is accepted.</summary>
    private sealed class TracingPolicy
    {
        private readonly string[] _excludePaths;

        public TracingPolicy(TracingOptions tracing)
        {
            Enabled = tracing.Enabled;
            TrustForceTrace = tracing.TrustForceTraceFromMesh;
            MaxPathTagLength = tracing.MaxPathTagLength;
            ResponseTraceHeader = tracing.ResponseTraceHeader;
            Sampler = new TraceSampler(tracing);
            CustomTags = new CustomTags(tracing.CustomTags, Environment.GetEnvironmentVariable);
            _excludePaths = [.. tracing.ExcludePaths ?? TracingOptions.DefaultExcludePaths];
            Inject = TraceFormats.FromNames(tracing.Propagation, TracingOptions.DefaultPropagation);
        }

        public bool Enabled { get; }
        public bool TrustForceTrace { get; }
        public int MaxPathTagLength { get; }
        public bool ResponseTraceHeader { get; }
        public TraceSampler Sampler { get; }
        public CustomTags CustomTags { get; }
        public TraceFormat Inject { get; }

        public bool IsExcluded(string? path)
        {
            if (string.IsNullOrEmpty(path))
            {
                return false;
            }

            foreach (var excluded in _excludePaths)
            {
                if (path.StartsWith(excluded, StringComparison.OrdinalIgnoreCase)
                    && (path.Length == excluded.Length || path[excluded.Length] == '/' || excluded[^1] == '/'))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 201, Level = LogLevel.Debug, EventName = "InvalidTraceContext",
            Message = "Ignored malformed trace context '{formats}' on the {listener} listener; it was not forwarded.")]
        public static partial void InvalidTraceContext(ILogger logger, TraceFormat formats, ListenerKind listener);
    }
}
