using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Routing;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Proxy.Tests;

public sealed class UpstreamClustersTests : IDisposable
{
    private readonly MeshLiteMetrics _metrics = new();

    public void Dispose() => _metrics.Dispose();

    private static MeshLiteSettings Settings(params (string Key, string? Value)[] values)
    {
        var all = new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "frontend",
            ["MeshLite:Inbound:AppPort"] = "8080",
            ["MeshLite:Services:payment:Endpoints:0"] = "http://10.0.0.7:8080",
            ["MeshLite:Services:payment:Endpoints:1"] = "http://10.0.0.8:8080/",
        };
        foreach (var (key, value) in values)
        {
            all[key] = value;
        }

        return MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(all).Build());
    }

    [Fact]
    public void Pick_OfTwoEndpoints_IsAlwaysTheOneWithFewerRequestsInFlight()
    {
        var clusters = new LiveUpstreams(Settings(), new UpstreamRetryMetrics(_metrics)).Current;
        var payment = clusters.For(clusters.Routes.Outbound(new Microsoft.AspNetCore.Http.HostString("payment")))!;
        var busy = payment.Endpoints[0];
        busy.Enter();
        busy.Enter();

        for (var i = 0; i < 100; i++)
        {
            Assert.Same(payment.Endpoints[1], payment.Pick());
        }

        Assert.Equal("10.0.0.8:8080", payment.Endpoints[1].Authority);
        Assert.Equal("http://10.0.0.8:8080", payment.Endpoints[1].Address);
    }

    [Fact]
    public void Pick_SpreadsOverEqualEndpoints()
    {
        var clusters = new LiveUpstreams(Settings(("MeshLite:Services:payment:Endpoints:2", "http://10.0.0.9:8080")), new UpstreamRetryMetrics(_metrics)).Current;
        var payment = clusters.Find("outbound|80||payment.default.svc.cluster.local")!;

        var picked = Enumerable.Range(0, 300).Select(_ => payment.Pick()!.Authority).ToHashSet();

        Assert.Equal(3, picked.Count);
    }

    [Fact]
    public void Update_KeepsTheClientAndInFlightCounts_WhenOnlyEndpointsChange_AndBuildsANewClient_WhenThePolicyChanges()
    {
        var live = new LiveUpstreams(Settings(), new UpstreamRetryMetrics(_metrics));
        var before = live.Current.Find("outbound|80||payment.default.svc.cluster.local")!;
        before.Endpoints[0].Enter();

        var moved = live.Update(Settings(("MeshLite:Services:payment:Endpoints:1", "http://10.0.0.10:8080")))
            .Find("outbound|80||payment.default.svc.cluster.local")!;

        Assert.Same(before.Client, moved.Client);
        Assert.Same(before.Endpoints[0], moved.Endpoints[0]);
        Assert.Equal(1, moved.Endpoints[0].ActiveRequests);
        Assert.Equal("10.0.0.10:8080", moved.Endpoints[1].Authority);

        var retried = live.Update(Settings(("MeshLite:Services:payment:Retries:Attempts", "2")))
            .Find("outbound|80||payment.default.svc.cluster.local")!;

        Assert.NotSame(moved.Client, retried.Client);
        Assert.Equal(2, retried.Policy?.Retries);
        Assert.Equal(Timeout.InfiniteTimeSpan, retried.RequestConfig.ActivityTimeout);
    }

    [Fact]
    public void For_TheBlackHole_IsNoCluster_AndPassthroughIsItsOwn()
    {
        var clusters = new LiveUpstreams(Settings(), new UpstreamRetryMetrics(_metrics)).Current;

        Assert.Null(clusters.For(RouteTable.BlackHole));
        Assert.Equal(Hops.MeshRoute.PassthroughCluster, clusters.For(RouteTable.Passthrough)?.Name);
        Assert.Equal("inbound|8080||", clusters.For(clusters.Routes.Inbound)?.Name);
    }
}
