using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Tracing.Propagation;

/// <summary>
/// B3 (https://github.com/openzipkin/b3-propagation), single header <c>b3</c> and multi-header <c>x-b3-*</c>.
/// 64-bit trace ids are accepted and remembered as short, so the B3 headers MeshLite writes keep them 64-bit.
/// </summary>
public static class B3Propagation
{
    /// <summary>Longest valid <c>b3</c>: 32-char trace id, span id, sampling state and parent span id.</summary>
    public const int MaxSingleLength = 68;

    /// <summary>Parses <c>b3</c>: <c>{traceid}-{spanid}[-{0|1|d}[-{parentspanid}]]</c>, or a bare <c>0</c>, <c>1</c> or <c>d</c>.</summary>
    public static bool TryParseSingle(ReadOnlySpan<char> value, out ParentContext context)
    {
        context = default;
        if (value.Length == 1)
        {
            if (!TryParseSamplingState(value[0], out var decision))
            {
                return false;
            }

            context = ParentContext.DecisionOnly(decision, TraceFormat.B3Single);
            return true;
        }

        if (value.Length > MaxSingleLength)
        {
            return false;
        }

        var dash = value.IndexOf('-');
        if (dash < 0 || !TraceIdentifier.TryParse(value[..dash], lowercaseOnly: false, allowShort: true, out var traceId, out var isShort))
        {
            return false;
        }

        var rest = value[(dash + 1)..];
        var spanEnd = rest.IndexOf('-');
        var spanHex = spanEnd < 0 ? rest : rest[..spanEnd];
        if (!SpanIdentifier.TryParse(spanHex, lowercaseOnly: false, out var spanId))
        {
            return false;
        }

        var sampled = SamplingState.Unspecified;
        if (spanEnd >= 0)
        {
            rest = rest[(spanEnd + 1)..];
            if (rest.Length == 0 || !TryParseSamplingState(rest[0], out sampled))
            {
                return false;
            }

            if (rest.Length > 1)
            {
                // "-{parentspanid}": checked for shape only; the parent of the caller's span is not ours to keep.
                if (rest[1] != '-' || !SpanIdentifier.TryParse(rest[2..], lowercaseOnly: false, out _))
                {
                    return false;
                }
            }
        }

        context = new ParentContext(traceId, spanId, sampled, TraceFormat.B3Single, isShort);
        return true;
    }

    /// <summary>
    /// Parses the multi-header form. Trace and span id come together or not at all; a lone sampling header is a decision
    /// without ids. <c>x-b3-sampled</c> takes <c>1</c>, <c>0</c>, <c>true</c>, <c>false</c>; <c>x-b3-flags: 1</c> is debug.
    /// </summary>
    public static bool TryParseMulti(
        ReadOnlySpan<char> traceIdHex,
        ReadOnlySpan<char> spanIdHex,
        ReadOnlySpan<char> sampledValue,
        ReadOnlySpan<char> flagsValue,
        out ParentContext context)
    {
        context = default;
        var sampled = SamplingState.Unspecified;
        if (flagsValue.SequenceEqual("1"))
        {
            sampled = SamplingState.Debug;
        }
        else if (!sampledValue.IsEmpty)
        {
            if (sampledValue.SequenceEqual("1") || sampledValue.Equals("true", StringComparison.OrdinalIgnoreCase))
            {
                sampled = SamplingState.Sampled;
            }
            else if (sampledValue.SequenceEqual("0") || sampledValue.Equals("false", StringComparison.OrdinalIgnoreCase))
            {
                sampled = SamplingState.NotSampled;
            }
            else
            {
                return false;
            }
        }

        if (traceIdHex.IsEmpty && spanIdHex.IsEmpty)
        {
            if (sampled == SamplingState.Unspecified)
            {
                return false;
            }

            context = ParentContext.DecisionOnly(sampled, TraceFormat.B3Multi);
            return true;
        }

        if (!TraceIdentifier.TryParse(traceIdHex, lowercaseOnly: false, allowShort: true, out var traceId, out var isShort)
            || !SpanIdentifier.TryParse(spanIdHex, lowercaseOnly: false, out var spanId))
        {
            return false;
        }

        context = new ParentContext(traceId, spanId, sampled, TraceFormat.B3Multi, isShort);
        return true;
    }

    /// <summary><c>{traceid}-{spanid}-{1|0|d}[-{parentspanid}]</c>.</summary>
    public static string FormatSingle(TraceIdentifier traceId, bool shortTraceId, SpanIdentifier spanId, SamplingState sampled, SpanIdentifier parentSpanId)
    {
        var traceLength = shortTraceId ? 16 : 32;
        var hasParent = !parentSpanId.IsEmpty;
        var length = traceLength + 1 + 16 + 2 + (hasParent ? 17 : 0);
        return string.Create(length, (traceId, shortTraceId, spanId, sampled, parentSpanId, traceLength, hasParent), static (span, s) =>
        {
            s.traceId.WriteHex(span, s.shortTraceId);
            span[s.traceLength] = '-';
            s.spanId.WriteHex(span.Slice(s.traceLength + 1, 16));
            span[s.traceLength + 17] = '-';
            span[s.traceLength + 18] = s.sampled switch { SamplingState.Debug => 'd', SamplingState.Sampled => '1', _ => '0' };
            if (s.hasParent)
            {
                span[s.traceLength + 19] = '-';
                s.parentSpanId.WriteHex(span.Slice(s.traceLength + 20, 16));
            }
        });
    }

    public static string FormatTraceId(TraceIdentifier traceId, bool shortTraceId) =>
        string.Create(shortTraceId ? 16 : 32, (traceId, shortTraceId), static (span, s) => s.traceId.WriteHex(span, s.shortTraceId));

    public static string FormatSpanId(SpanIdentifier spanId) => spanId.ToString();

    private static bool TryParseSamplingState(char c, out SamplingState sampled)
    {
        sampled = c switch
        {
            '1' => SamplingState.Sampled,
            '0' => SamplingState.NotSampled,
            'd' => SamplingState.Debug,
            _ => SamplingState.Unspecified,
        };
        return sampled != SamplingState.Unspecified;
    }
}
