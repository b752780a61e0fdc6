using System.Diagnostics;

namespace MeshLite.Hops;

/// <summary>
/// The facts of one request through one listener — route, cluster, response flags, sizes, ids, outcome — written by
/// the proxy while the request runs, and read, once it is finished, by its observers (<see cref="IHopObserver"/>):
/// the span, the Istio metrics, the access log. Set as a request feature.
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

    /// <summary>Wall-clock start, for the access log's <c>%START_TIME%</c>; only read when the access log is on.</summary>
    public DateTime StartTime { get; set; }

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
    public TraceIdentifier TraceId { get; set; }
    public SpanIdentifier SpanId { get; set; }

    /// <summary>The span this hop's span is a child of (the caller's), or empty for a root; kept for a deferred keep.</summary>
    public SpanIdentifier ParentSpanId { get; set; }

    /// <summary>The span of this hop; null when not sampled (until a keep rule exports it when the hop ends).</summary>
    public Activity? Span { get; set; }

    /// <summary>The break detector's verdict on this outbound call (<c>missing</c>, <c>mismatch</c>, <c>partial</c>), or null.</summary>
    public string? PropagationBreak { get; set; }

    public string? BreakConfidence { get; set; }

    private int _keep;

    /// <summary>
    /// Why this unsampled hop will be exported when it ends, once known: set while it runs (an error response, a hop
    /// after it on the trace that was kept — possibly from another request's thread) and at its end.
    /// </summary>
    public KeepReason Keep
    {
        get => (KeepReason)Volatile.Read(ref _keep);
        set => Volatile.Write(ref _keep, (int)value);
    }

    /// <summary>Sets <see cref="Keep"/> unless a reason is already set; true when this call set it.</summary>
    public bool TryKeep(KeepReason reason) => Interlocked.CompareExchange(ref _keep, (int)reason, (int)KeepReason.None) == (int)KeepReason.None;

    /// <summary>The workload on the other side, from the metadata exchange; <see cref="PeerMetadata.Unknown"/> until known.</summary>
    public PeerMetadata Peer { get; set; } = PeerMetadata.Unknown;

    /// <summary>The caller sent its metadata, so the inbound side answers with its own.</summary>
    public bool PeerMetadataRequested { get; set; }

    public bool IsGrpc { get; set; }

    /// <summary>The slot this inbound request holds in the in-flight table, or -1.</summary>
    public int InflightSlot { get; set; } = -1;

    /// <summary>The inbound request's method and path, kept (not copied) for the propagation report's route key.</summary>
    public string? InboundMethod { get; set; }

    public string? InboundPath { get; set; }

    /// <summary>Set when <c>MeshLite:Tracing:ResponseTraceHeader</c> is on: the trace id for the <c>x-trace-id</c> response header.</summary>
    public string? ResponseTraceId { get; set; }

    /// <summary>Tries sent upstream (<c>%UPSTREAM_REQUEST_ATTEMPT_COUNT%</c>) when the cluster has a retry policy or timeout; 0 otherwise.</summary>
    public int UpstreamAttempts { get; set; }

    /// <summary>Why each retry was made (<c>503</c>, <c>connect-failure</c>, …); null when none was.</summary>
    public List<string>? RetryReasons { get; set; }

    /// <summary>Envoy's attempt count: the tries made, 1 for a forwarded request without a retry policy, 0 when nothing was sent.</summary>
    public int AttemptCount => UpstreamAttempts > 0 ? UpstreamAttempts : ForwardTimestamp != 0 ? 1 : 0;

    public CountingRequestBody? RequestBody { get; set; }
    public CountingResponseBody? ResponseBody { get; set; }

    /// <summary>Request body bytes read from the client (<c>%BYTES_RECEIVED%</c>).</summary>
    public long BytesReceived => RequestBody?.BytesRead ?? 0;

    /// <summary>Response body bytes written to the client (<c>%BYTES_SENT%</c>).</summary>
    public long BytesSent => ResponseBody?.BytesWritten ?? 0;

    /// <summary>The status recorded for the hop, once finished: the response's, or 0 when the client left before one started.</summary>
    public int StatusCode { get; set; }

    /// <summary>From the first byte of the request to the end of the response, once finished.</summary>
    public TimeSpan Duration { get; set; }

    /// <summary>A gRPC response's <c>grpc-status</c> (trailers, or headers for a trailers-only reply), once finished; null otherwise.</summary>
    public string? GrpcStatus { get; set; }
}
