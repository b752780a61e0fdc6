using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Tracing.Propagation;

/// <summary>
/// The trace context that arrived with a request: the caller's ids, its sampling decision, and the format they came in.
/// A context can carry a decision without ids (<c>b3: 0</c>, a lone <c>x-b3-sampled</c>).
/// </summary>
public readonly record struct ParentContext(
    TraceIdentifier TraceId,
    SpanIdentifier SpanId,
    SamplingState Sampled,
    TraceFormat Format,
    bool ShortTraceId)
{
    public bool HasIds => !SpanId.IsEmpty;

    public static ParentContext DecisionOnly(SamplingState sampled, TraceFormat format) => new(default, default, sampled, format, false);
}
