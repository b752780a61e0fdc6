using System.Diagnostics;
using System.Globalization;
using System.Net;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Tracing.Keep;
using MeshLite.Tracing.Propagation;
using Tag = MeshLite.Tracing.MeshLiteTelemetry.Tags;

namespace MeshLite.Tracing;

/// <summary>
/// Where a span is tagged: at the end of a sampled hop — or of one that was not sampled but is kept
/// (<see cref="TraceKeeper"/>), whose span is made now with the ids it sent — the span gets the tags Envoy and Istio
/// give theirs (node, url, method, protocol, sizes, cluster, status, response flags, canonical service, …), the retry
/// events, the operator's custom tags and the error status, and is ended.
/// </summary>
internal sealed class SpanTagger : IHopObserver
{
    private readonly MeshLiteSettings _settings;
    private readonly LiveTracingPolicy _policy;
    private readonly TraceKeeper _keeper;
    private readonly MeshLiteMetrics _metrics;
    private readonly TimeProvider _time;
    private PeerAddressText? _lastPeer;

    public SpanTagger(LiveSettings live, LiveTracingPolicy policy, TraceKeeper keeper, MeshLiteMetrics metrics, TimeProvider time)
    {
        _settings = live.Current;
        _policy = policy;
        _keeper = keeper;
        _metrics = metrics;
        _time = time;
    }

    public string Stage => "tracing";

    public bool WantsStartTime => false;

    /// <summary>Tags and ends the hop's span, once the response is done; an unsampled hop has none and costs nothing here.</summary>
    public void OnHopCompleted(HopFeature hop, HttpContext context)
    {
        var statusCode = hop.StatusCode;
        var span = hop.Span;
        var kept = KeepReason.None;
        if (span is null)
        {
            kept = _keeper.OnCompleted(hop, context.Request);
            if (kept == KeepReason.None || !_policy.Current.ReportSpans || (span = StartKept(hop)) is null)
            {
                return;
            }
        }

        var policy = _policy.Current;
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
        span.AddTag(Tag.SamplingReason, kept == KeepReason.None ? SamplingDecision.ReasonName(hop.Sampling.Reason) : SamplingDecision.KeepReasonName(kept));

        var grpcError = false;
        if (hop.IsGrpc)
        {
            span.AddTag(Tag.GrpcPath, request.Path.Value);
            if (hop.GrpcStatus is { } grpcStatus)
            {
                span.AddTag(Tag.GrpcStatusCode, grpcStatus);
                grpcError = GrpcStatusCodes.IsServerError(grpcStatus);
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

    /// <summary>The span of a kept hop, started at the hop's start with its ids; the break it saw is noted as on a sampled span.</summary>
    private Activity? StartKept(HopFeature hop)
    {
        var span = KeptSpan.Start(hop, _time.GetUtcNow() - hop.Duration);
        if (span is null)
        {
            return null;
        }

        _metrics.SpansStarted.Inc();
        if (hop.PropagationBreak is { } kind)
        {
            span.AddTag(Tag.Propagation, kind);
            span.AddTag(Tag.StitchConfidence, hop.BreakConfidence);
        }

        return span;
    }

    public static string HttpUrl(HttpRequest request, int maxPathLength)
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

    public static string ProtocolTag(string protocol) => protocol switch
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
}
