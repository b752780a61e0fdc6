using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Metrics;
using Microsoft.Extensions.Configuration;

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
        var settings = MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "svc",
            ["MeshLite:Inbound:AppPort"] = "8080",
        }).Build());
        _metrics = new IstioMetrics(new MeshLiteMetrics(), settings);
        var route = new MeshRoute(MeshRouteKind.Inbound, ListenerKind.Inbound, "inbound|8080||", "svc", "svc.default.svc.cluster.local:80/*", "auto", "default", "svc.default.svc.cluster.local");
        _hop = new HopFeature(ListenerKind.Inbound, route, Stopwatch.GetTimestamp());
        _metrics.Record(_hop, "svc", 200, "", 1.5, 300, 1200);
    }

    [Benchmark]
    public void RecordRequest() => _metrics.Record(_hop, "svc", 200, "", 1.5, 300, 1200);
}
