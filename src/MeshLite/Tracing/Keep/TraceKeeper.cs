using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Propagation;

namespace MeshLite.Tracing.Keep;

/// <summary>
/// Decides which hops that were not sampled are kept — exported when they end, with the ids they already sent — and
/// carries that back towards the root: a kept outbound call keeps the inbound request of the same trace that this
/// sidecar is still serving, whatever the app answers, and that request's response tells the calling sidecar so with
/// W3C <c>traceresponse</c> (<c>00-&lt;trace-id&gt;-&lt;span-id&gt;-01</c>), which keeps its call in turn.
/// </summary>
internal sealed class TraceKeeper
{
    private static readonly InflightInbound.Visitor<(TraceIdentifier TraceId, int Marked)> _markPath = static (ref state, inbound) =>
    {
        if (inbound.TraceId == state.TraceId && inbound.Span is null && inbound.TryKeep(KeepReason.Path))
        {
            state.Marked++;
        }
    };

    private readonly InflightInbound _inflight;
    private readonly MeshLiteMetrics _metrics;
    private volatile KeepPolicy _policy;

    public TraceKeeper(LiveSettings live, InflightInbound inflight, MeshLiteMetrics metrics)
    {
        _policy = new KeepPolicy(live.Current.Options.Tracing);
        live.Changed += settings => _policy = new KeepPolicy(settings.Options.Tracing);
        _inflight = inflight;
        _metrics = metrics;
    }

    /// <summary>
    /// A hop's response headers are known (the upstream's, or a local reply's): an error keeps it now; on the outbound
    /// side a mesh callee's <c>traceresponse</c> is consumed (and keeps it when the callee kept the same trace); on the
    /// inbound side a kept hop answers a mesh caller with <c>traceresponse</c>.
    /// </summary>
    public void OnResponse(HopFeature hop, HttpResponse response)
    {
        var policy = _policy;
        var headers = response.Headers;
        var outbound = hop.Listener == ListenerKind.Outbound;
        var fromMesh = outbound && hop.Route.Kind == MeshRouteKind.Registry;
        var calleeKept = false;
        if (!outbound && hop.PeerMetadataRequested)
        {
            // Towards a mesh caller the header is MeshLite's signal alone: an app's own would speak for hops it cannot see.
            headers.Remove(TraceHeaders.TraceResponse);
        }
        else if (fromMesh && headers.TryGetValue(TraceHeaders.TraceResponse, out var traceResponse))
        {
            // MeshLite's own signal between sidecars: consumed, unless the operator lets the app see it.
            if (!policy.ForwardTraceResponse)
            {
                headers.Remove(TraceHeaders.TraceResponse);
            }

            calleeKept = traceResponse.Count == 1 && W3CTraceContext.TryParse(traceResponse[0], out var callee)
                && callee.Sampled == SamplingState.Sampled && callee.TraceId == hop.TraceId;
        }

        if (hop.Span is not null || !Eligible(hop))
        {
            return;
        }

        if (policy.Errors && IsError(response.StatusCode, hop.Flags, grpcStatus: null))
        {
            TryKeepNew(hop, KeepReason.Error, policy);
        }

        if (calleeKept)
        {
            // Never refused by the storm budget: the callee kept this trace, and its parent must be there.
            hop.TryKeep(KeepReason.Path);
        }

        if (hop.Keep == KeepReason.None)
        {
            return;
        }

        if (outbound)
        {
            MarkInboundOf(hop.TraceId);
        }
        else if (hop.PeerMetadataRequested)
        {
            // Only a mesh caller (a sidecar that sent its peer metadata) is told; a client from outside never is.
            headers[TraceHeaders.TraceResponse] = W3CTraceContext.Format(hop.TraceId, hop.SpanId, sampled: true);
        }
    }

    /// <summary>The final word when a hop ends: why it is kept (errors seen only now, slowness, a break), or <see cref="KeepReason.None"/>.</summary>
    public KeepReason OnCompleted(HopFeature hop, HttpRequest request)
    {
        if (hop.Span is not null || !Eligible(hop))
        {
            return KeepReason.None;
        }

        if (hop.Keep == KeepReason.None)
        {
            var policy = _policy;
            if (policy.Errors && IsError(hop.StatusCode, hop.Flags, hop.GrpcStatus))
            {
                TryKeepNew(hop, KeepReason.Error, policy);
            }
            else if (policy.SlowerThanMs(hop, request.Path.Value, request.Method) is { } slow && hop.Duration.TotalMilliseconds > slow)
            {
                TryKeepNew(hop, KeepReason.Slow, policy);
            }
            else if (policy.Breaks && hop.PropagationBreak is "missing" or "mismatch")
            {
                TryKeepNew(hop, KeepReason.Break, policy);
            }

            if (hop.Keep != KeepReason.None && hop.Listener == ListenerKind.Outbound)
            {
                MarkInboundOf(hop.TraceId);
            }
        }

        var reason = hop.Keep;
        if (reason != KeepReason.None)
        {
            _metrics.RecordKept(reason);
        }

        return reason;
    }

    /// <summary>Envoy's idea of a failed request: a 5xx, no response at all, a response flag, or a gRPC server error.</summary>
    public static bool IsError(int statusCode, ResponseFlags flags, string? grpcStatus) =>
        statusCode is 0 or >= 500 || flags != ResponseFlags.None || GrpcStatusCodes.IsServerError(grpcStatus);

    /// <summary>A hop whose tracing ran (not an excluded path, tracing on) and so has ids that went downstream.</summary>
    private static bool Eligible(HopFeature hop) => hop.Sampling.Reason != SamplingReason.Excluded && !hop.TraceId.IsEmpty;

    /// <summary>A keep of this hop's own (not one handed down the path) spends the storm budget, when there is one.</summary>
    private void TryKeepNew(HopFeature hop, KeepReason reason, KeepPolicy policy)
    {
        if (hop.Keep != KeepReason.None)
        {
            return;
        }

        if (policy.Budget is { } budget && !budget.Admit(hop.TraceId))
        {
            _metrics.KeepRefused.Inc();
            return;
        }

        hop.TryKeep(reason);
    }

    private void MarkInboundOf(TraceIdentifier traceId)
    {
        var state = (traceId, 0);
        _inflight.ForEach(ref state, _markPath);
    }
}
