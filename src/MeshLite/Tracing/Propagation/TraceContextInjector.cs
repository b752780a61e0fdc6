using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Tracing.Propagation;

/// <summary>Writes a hop's trace context toward the next hop, in W3C, B3 multi-header and B3 single-header forms, after removing what arrived.</summary>
internal static class TraceContextInjector
{
    /// <summary>Writes the new span's ids in every format asked for, after removing the trace headers that arrived (<paramref name="present"/>).</summary>
    public static void Inject(IHeaderDictionary headers, TraceFormat present, TraceFormat formats, TraceIdentifier traceId, bool shortTraceId,
        SpanIdentifier spanId, SpanIdentifier parentSpanId, SamplingState sampled, bool dropTraceState)
    {
        if ((present & TraceFormat.W3C) != 0)
        {
            headers.Remove(TraceHeaders.TraceParent);
        }

        if ((present & TraceFormat.B3Single) != 0)
        {
            headers.Remove(TraceHeaders.B3);
        }

        if ((present & TraceFormat.B3Multi) != 0)
        {
            headers.Remove(TraceHeaders.B3TraceId);
            headers.Remove(TraceHeaders.B3SpanId);
            headers.Remove(TraceHeaders.B3ParentSpanId);
            headers.Remove(TraceHeaders.B3Sampled);
            headers.Remove(TraceHeaders.B3Flags);
        }
        if (dropTraceState)
        {
            // tracestate belongs to the traceparent it came with; that one was invalid and is gone.
            headers.Remove(TraceHeaders.TraceState);
        }

        var isSampled = sampled != SamplingState.NotSampled;
        if ((formats & TraceFormat.W3C) != 0)
        {
            headers[TraceHeaders.TraceParent] = W3CTraceContext.Format(traceId, spanId, isSampled);
        }

        if ((formats & TraceFormat.B3Multi) != 0)
        {
            headers[TraceHeaders.B3TraceId] = B3Propagation.FormatTraceId(traceId, shortTraceId);
            headers[TraceHeaders.B3SpanId] = B3Propagation.FormatSpanId(spanId);
            if (!parentSpanId.IsEmpty)
            {
                headers[TraceHeaders.B3ParentSpanId] = B3Propagation.FormatSpanId(parentSpanId);
            }

            if (sampled == SamplingState.Debug)
            {
                headers[TraceHeaders.B3Flags] = "1";
            }
            else
            {
                headers[TraceHeaders.B3Sampled] = isSampled ? "1" : "0";
            }
        }

        if ((formats & TraceFormat.B3Single) != 0)
        {
            headers[TraceHeaders.B3] = B3Propagation.FormatSingle(traceId, shortTraceId, spanId, sampled, parentSpanId);
        }
    }
}
