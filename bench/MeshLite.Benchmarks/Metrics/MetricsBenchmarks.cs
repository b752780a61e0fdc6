using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Metrics;

namespace MeshLite.Benchmarks.Metrics;

/// <summary>Recording one request in Istio's four metrics, for a label set already seen (the steady state).</summary>
[MemoryDiagnoser]
public class MetricsBenchmarks
{
    private IstioMetrics _metrics = null!;
    private HopFeature _hop = null!;

    [GlobalSetup]
    public void Setup()
    {
        _metrics = new IstioMetrics(new MeshLiteMetrics(), BenchmarkSidecar.Settings());
        _hop = new HopFeature(ListenerKind.Inbound, BenchmarkSidecar.InboundRoute, Stopwatch.GetTimestamp());
        _metrics.Record(_hop, "svc", 200, "", 1.5, 300, 1200);
    }

    [Benchmark]
    public void RecordRequest() => _metrics.Record(_hop, "svc", 200, "", 1.5, 300, 1200);
}
