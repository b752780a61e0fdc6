using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Tracing.Propagation;

/// <summary>
/// W3C Trace Context <c>traceparent</c> (https://www.w3.org/TR/trace-context/): <c>00-{32 hex}-{16 hex}-{2 hex}</c>.
/// Lowercase hex only; version <c>ff</c>, all-zero ids and version-00 values of any other length are invalid; a later
/// version is read by its first four fields, as the specification asks.
/// </summary>
public static class W3CTraceContext
{
    public const int TraceParentLength = 55;

    /// <summary>Longer values are refused outright, whatever their version.</summary>
    public const int MaxTraceParentLength = 256;

    public static bool TryParse(ReadOnlySpan<char> value, out ParentContext context)
    {
        context = default;
        if (value.Length < TraceParentLength || value.Length > MaxTraceParentLength
            || value[2] != '-' || value[35] != '-' || value[52] != '-')
        {
            return false;
        }

        var version = value[..2];
        if (!HexId.IsHex(version, lowercaseOnly: true) || version.SequenceEqual("ff"))
        {
            return false;
        }

        if (version.SequenceEqual("00") ? value.Length != TraceParentLength : value.Length > TraceParentLength && value[TraceParentLength] != '-')
        {
            return false;
        }

        var flags = value.Slice(53, 2);
        if (!HexId.IsHex(flags, lowercaseOnly: true)
            || !TraceIdentifier.TryParse(value.Slice(3, 32), lowercaseOnly: true, allowShort: false, out var traceId, out _)
            || !SpanIdentifier.TryParse(value.Slice(36, 16), lowercaseOnly: true, out var spanId))
        {
            return false;
        }

        var sampled = (HexValue(flags[1]) & 1) == 1 ? SamplingState.Sampled : SamplingState.NotSampled;
        context = new ParentContext(traceId, spanId, sampled, TraceFormat.W3C, ShortTraceId: false);
        return true;
    }

    public static string Format(TraceIdentifier traceId, SpanIdentifier spanId, bool sampled) =>
        string.Create(TraceParentLength, (traceId, spanId, sampled), static (span, state) => Write(span, state.traceId, state.spanId, state.sampled));

    /// <summary>Writes the 55 characters of a traceparent into <paramref name="span"/>.</summary>
    public static void Write(Span<char> span, TraceIdentifier traceId, SpanIdentifier spanId, bool sampled)
    {
        span[0] = '0';
        span[1] = '0';
        span[2] = '-';
        traceId.WriteHex(span.Slice(3, 32));
        span[35] = '-';
        spanId.WriteHex(span.Slice(36, 16));
        span[52] = '-';
        span[53] = '0';
        span[54] = sampled ? '1' : '0';
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : c - 'a' + 10;
}
