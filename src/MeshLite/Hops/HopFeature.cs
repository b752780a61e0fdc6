using System.Diagnostics;
using MeshLite.Tracing.Sampling;

namespace MeshLite.Hops;

/// <summary>
/// The facts of one request through one listener — route, cluster, response flags, sizes, ids — that the span
/// (and later the metrics and the access log) read. Set by <c>SidecarHopMiddleware</c> as a request feature.
/// </summary>
internal sealed class HopFeature
{
    public HopFeature(ListenerKind listener, MeshRoute route, long startTimestamp)
    {
        Listener = listener;
        Route = route;
        StartTimestamp = startTimestamp;
    }

    public ListenerKind Listener { get; }
    public MeshRoute Route { get; }
    public long StartTimestamp { get; }

    /// <summary>When the request was handed to the upstream (0 until then).</summary>
    public long ForwardTimestamp { get; set; }

    /// <summary>Milliseconds from forwarding to the upstream's response headers (<c>x-envoy-upstream-service-time</c>), or -1.</summary>
    public long UpstreamServiceTimeMs { get; set; } = -1;

    public ResponseFlags Flags { get; set; }

    /// <summary>Envoy's <c>%RESPONSE_CODE_DETAILS%</c>: <c>via_upstream</c>, <c>route_not_found</c>, …</summary>
    public string? ResponseCodeDetails { get; set; }

    /// <summary>The address the request was sent to (<c>%UPSTREAM_HOST%</c>).</summary>
    public string? UpstreamHost { get; set; }

    /// <summary>Span name; the outbound side may rename it from a response <c>x-envoy-decorator-operation</c>.</summary>
    public string OperationName { get; set; } = string.Empty;

    public string RequestId { get; set; } = string.Empty;
    public SamplingDecision Sampling { get; set; }
    public ActivityTraceId TraceId { get; set; }
    public ActivitySpanId SpanId { get; set; }

    /// <summary>The span of this hop; null when not sampled.</summary>
    public Activity? Span { get; set; }

    public CountingRequestBody? RequestBody { get; set; }
    public CountingResponseBody? ResponseBody { get; set; }
}
