namespace MeshLite.Tracing.Propagation;

/// <summary>Header names MeshLite reads or writes, lowercase as HTTP/2 sends them.</summary>
public static class TraceHeaders
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";
    public const string B3 = "b3";
    public const string B3TraceId = "x-b3-traceid";
    public const string B3SpanId = "x-b3-spanid";
    public const string B3ParentSpanId = "x-b3-parentspanid";
    public const string B3Sampled = "x-b3-sampled";
    public const string B3Flags = "x-b3-flags";
    public const string RequestId = "x-request-id";
    public const string ClientTraceId = "x-client-trace-id";
    public const string ForceTrace = "x-envoy-force-trace";
    public const string DecoratorOperation = "x-envoy-decorator-operation";
    public const string OtSpanContext = "x-ot-span-context";
    public const string Baggage = "baggage";

    /// <summary>W3C Trace Context Level 3 (draft): the callee's trace and span, and whether it recorded them.</summary>
    public const string TraceResponse = "traceresponse";

    /// <summary>The headers Istio asks every app to copy from its incoming request onto its outgoing calls.</summary>
    public static readonly IReadOnlyList<string> ForwardedByApps =
    [
        RequestId, TraceParent, TraceState, B3TraceId, B3SpanId, B3ParentSpanId, B3Sampled, B3Flags, B3, OtSpanContext, Baggage,
    ];
}
