using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;
using Microsoft.AspNetCore.Http;

namespace MeshLite.Benchmarks.Propagation;

/// <summary>Extracting and writing each trace format, valid and invalid. Parsing must allocate nothing.</summary>
[MemoryDiagnoser]
public class PropagationBenchmarks
{
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private const string BadTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01";
    private const string B3Single = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90";
    private readonly TraceIdentifier _traceId = new(0x4bf92f3577b34da6, 0xa3ce929d0e0e4736);
    private readonly SpanIdentifier _spanId = new(0x00f067aa0ba902b7);
    private readonly char[] _buffer = new char[128];
    private HeaderDictionary _headers = null!;

    [GlobalSetup]
    public void Setup() => _headers = new HeaderDictionary
    {
        ["traceparent"] = TraceParent,
        ["x-b3-traceid"] = "463ac35c9f6413ad48485a3953bb6124",
        ["x-b3-spanid"] = "a2fb4a1d1a96d312",
        ["x-b3-sampled"] = "1",
    };

    [Benchmark(Baseline = true)]
    public bool ParseTraceParent() => W3CTraceContext.TryParse(TraceParent, out _);

    [Benchmark]
    public bool ParseTraceParent_Invalid() => W3CTraceContext.TryParse(BadTraceParent, out _);

    [Benchmark]
    public bool ParseB3Single() => B3Propagation.TryParseSingle(B3Single, out _);

    [Benchmark]
    public bool ParseB3Single_Invalid() => B3Propagation.TryParseSingle("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x", out _);

    [Benchmark]
    public bool ParseB3Multi() => B3Propagation.TryParseMulti("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", "1", "", out _);

    [Benchmark]
    public ParentContext ExtractFromHeaders() => TraceContextExtractor.Extract(_headers, out _);

    /// <summary>Writing a traceparent into a buffer: the work of injection without the header string itself.</summary>
    [Benchmark]
    public int WriteTraceParentIntoBuffer()
    {
        W3CTraceContext.Write(_buffer, _traceId, _spanId, true);
        return W3CTraceContext.TraceParentLength;
    }

    /// <summary>The header value MeshLite forwards: its one allocation is the string sent upstream.</summary>
    [Benchmark]
    public string FormatTraceParent() => W3CTraceContext.Format(_traceId, _spanId, true);

    [Benchmark]
    public string FormatB3Single() => B3Propagation.FormatSingle(_traceId, false, _spanId, SamplingState.Sampled, _spanId);
}
