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
}

public readonly record struct SamplingDecision(bool Sampled, SamplingReason Reason)
{
    public static string ReasonName(SamplingReason reason) => reason switch
    {
        SamplingReason.Random or SamplingReason.RandomHit => "random",
        SamplingReason.Parent => "parent",
        SamplingReason.ClientForced or SamplingReason.ServiceForced => "forced",
        SamplingReason.Override => "override",
        _ => "excluded",
    };
}
