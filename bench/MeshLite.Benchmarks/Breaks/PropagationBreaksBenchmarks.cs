using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Propagation;
using Microsoft.AspNetCore.Http;

namespace MeshLite.Benchmarks.Breaks;

/// <summary>
/// The break detector's cost: registering and removing an inbound request in the in-flight table (every inbound
/// request pays it), and classifying an outbound call against the requests in flight.
/// </summary>
[MemoryDiagnoser]
public class PropagationBreaksBenchmarks
{
    private BreakClassifier _breaks = null!;
    private HopFeature _inbound = null!;
    private HeaderDictionary _continuing = null!;
    private ParentContext _parent;

    [Params(1, 16)]
    public int InFlight { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _breaks = new BreakClassifier(new LiveSettings(BenchmarkSidecar.Settings(), TimeProvider.System), new InflightInbound());
        var route = BenchmarkSidecar.InboundRoute;
        for (var i = 0; i < InFlight; i++)
        {
            var hop = new HopFeature(ListenerKind.Inbound, route, Stopwatch.GetTimestamp()) { TraceId = TraceIdentifier.CreateRandom(), RequestId = RequestId.Generate() };
            _breaks.OnInboundStart(hop);
            _inbound = hop;
        }

        _parent = new ParentContext(_inbound.TraceId, SpanIdentifier.CreateRandom(), SamplingState.Sampled, TraceFormat.W3C, false);
        _continuing = new HeaderDictionary
        {
            ["traceparent"] = "x",
            ["x-b3-traceid"] = "x",
            ["x-b3-sampled"] = "1",
            ["x-request-id"] = _inbound.RequestId,
        };
    }

    [Benchmark(Baseline = true)]
    public void InboundAddRemove()
    {
        var route = _inbound.Route;
        var hop = new HopFeature(ListenerKind.Inbound, route, 0);
        _breaks.OnInboundStart(hop);
        _breaks.OnHopCompleted(hop, null!);
    }

    [Benchmark]
    public BreakKind ClassifyContinuingCall() => _breaks.Classify(_continuing, _parent, _inbound.RequestId).Kind;
}
