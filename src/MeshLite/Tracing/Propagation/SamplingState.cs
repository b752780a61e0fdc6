namespace MeshLite.Tracing.Propagation;

/// <summary>A sampling decision carried by a trace-context header.</summary>
public enum SamplingState : byte
{
    Unspecified = 0,
    NotSampled = 1,
    Sampled = 2,

    /// <summary>B3 debug (<c>x-b3-flags: 1</c> or <c>b3: d</c>): sampled, and kept debug downstream.</summary>
    Debug = 3,
}
