using MeshLite.Configuration;
using Microsoft.Extensions.Primitives;

namespace MeshLite.Tracing.Propagation;

/// <summary>
/// Reads the caller's trace context from request headers. W3C wins over <c>b3</c>, which wins over <c>x-b3-*</c>;
/// a format whose headers are malformed or repeated is treated as absent and reported in <c>invalid</c>.
/// </summary>
public static class TraceContextExtractor
{
    public static ParentContext Extract(IHeaderDictionary headers, out TraceFormat invalid) => Extract(headers, out invalid, out _);

    /// <param name="headers">The request headers.</param>
    /// <param name="invalid">Formats that were present but malformed.</param>
    /// <param name="present">Formats with any header present, valid or not (what a writer must remove).</param>
    public static ParentContext Extract(IHeaderDictionary headers, out TraceFormat invalid, out TraceFormat present)
    {
        invalid = TraceFormat.None;
        present = TraceFormat.None;
        var found = default(ParentContext);

        var traceParent = headers[TraceHeaders.TraceParent];
        if (traceParent.Count > 0)
        {
            present |= TraceFormat.W3C;
            if (traceParent.Count == 1 && W3CTraceContext.TryParse(traceParent[0], out var w3c))
            {
                found = w3c;
            }
            else
            {
                invalid |= TraceFormat.W3C;
            }
        }

        var b3 = headers[TraceHeaders.B3];
        if (b3.Count > 0)
        {
            present |= TraceFormat.B3Single;
            if (b3.Count == 1 && B3Propagation.TryParseSingle(b3[0], out var single))
            {
                found = Prefer(found, single);
            }
            else
            {
                invalid |= TraceFormat.B3Single;
            }
        }

        var traceId = headers[TraceHeaders.B3TraceId];
        var spanId = headers[TraceHeaders.B3SpanId];
        var sampled = headers[TraceHeaders.B3Sampled];
        var flags = headers[TraceHeaders.B3Flags];
        if (traceId.Count + spanId.Count + sampled.Count + flags.Count + headers[TraceHeaders.B3ParentSpanId].Count > 0)
        {
            present |= TraceFormat.B3Multi;
            if (traceId.Count <= 1 && spanId.Count <= 1 && sampled.Count <= 1 && flags.Count <= 1
                && B3Propagation.TryParseMulti(First(traceId), First(spanId), First(sampled), First(flags), out var multi))
            {
                found = Prefer(found, multi);
            }
            else
            {
                invalid |= TraceFormat.B3Multi;
            }
        }

        return found;
    }

    /// <summary>Keeps the earlier (higher-precedence) context unless it only carries a decision and the later one has ids.</summary>
    private static ParentContext Prefer(ParentContext current, ParentContext candidate)
    {
        if (current.Format == TraceFormat.None)
        {
            return candidate;
        }

        if (!current.HasIds && candidate.HasIds)
        {
            return candidate with { Sampled = current.Sampled == SamplingState.Unspecified ? candidate.Sampled : current.Sampled };
        }

        return current;
    }

    private static ReadOnlySpan<char> First(StringValues values) => values.Count == 0 ? default : values[0].AsSpan();
}
