using MeshLite.Configuration;
using MeshLite.Hops;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Benchmarks;

/// <summary>The one sidecar configuration and inbound route the in-process benchmarks build their components from.</summary>
internal static class BenchmarkSidecar
{
    public static MeshRoute InboundRoute { get; } = new(MeshRouteKind.Inbound, ListenerKind.Inbound, "inbound|8080||", "svc",
        "svc.default.svc.cluster.local:80/*", "auto", "default", "svc.default.svc.cluster.local");

    public static MeshLiteSettings Settings(params (string Key, string Value)[] extra)
    {
        var values = new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "svc",
            ["MeshLite:Inbound:AppPort"] = "8080",
            ["MeshLite:PodName"] = "svc-1",
            ["MeshLite:PodIp"] = "10.0.0.1",
        };
        foreach (var (key, value) in extra)
        {
            values[key] = value;
        }

        return MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }
}
