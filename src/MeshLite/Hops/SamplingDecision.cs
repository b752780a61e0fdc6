namespace MeshLite.Hops;

/// <summary>Why a request was or was not traced, as Envoy's <c>Tracing::Reason</c> plus MeshLite's own reasons.</summary>
public enum SamplingReason : byte
{
    /// <summary>The random draw missed.</summary>
    Random = 0,

    /// <summary>The random draw hit.</summary>
    RandomHit,

    /// <summary>The caller's decision (trace-context flag or x-request-id) was followed.</summary>
    Parent,

    /// <summary><c>x-client-trace-id</c>.</summary>
    ClientForced,

    /// <summary><c>x-envoy-force-trace</c>.</summary>
    ServiceForced,

    /// <summary>A per-route or per-service percentage decided.</summary>
    Override,

    /// <summary>An excluded path (health, metrics) or tracing switched off.</summary>
    Excluded,

    /// <summary>The draw hit, but <c>Tracing:MaxTracesPerSecond</c> was spent.</summary>
    RateLimited,
}

/// <summary>Why a hop that was not sampled exported its span anyway when it ended.</summary>
public enum KeepReason : byte
{
    None = 0,

    /// <summary>5xx, no response, a gRPC server error or a response flag.</summary>
    Error,

    /// <summary>Slower than <c>Tracing:Keep:SlowerThanMs</c>.</summary>
    Slow,

    /// <summary>The app broke propagation on this call.</summary>
    Break,

    /// <summary>A hop after it on the same trace was kept (in this sidecar, or downstream, told by <c>traceresponse</c>).</summary>
    Path,
}

public readonly record struct SamplingDecision(bool Sampled, SamplingReason Reason)
{
    public static string ReasonName(SamplingReason reason) => reason switch
    {
        SamplingReason.Random or SamplingReason.RandomHit => "random",
        SamplingReason.Parent => "parent",
        SamplingReason.ClientForced or SamplingReason.ServiceForced => "forced",
        SamplingReason.Override => "override",
        SamplingReason.RateLimited => "rate_limited",
        _ => "excluded",
    };

    public static string KeepReasonName(KeepReason reason) => reason switch
    {
        KeepReason.Error => "kept_error",
        KeepReason.Slow => "kept_slow",
        KeepReason.Break => "kept_break",
        KeepReason.Path => "kept_path",
        _ => "none",
    };
}
