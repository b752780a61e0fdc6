using MeshLite.Configuration;
using MeshLite.Hops;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Routing.Tests;

public class RouteTableTests
{
    private static RouteTable Table(params (string Key, string? Value)[] values)
    {
        var all = new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "frontend",
            ["MeshLite:Inbound:AppPort"] = "8080",
            ["MeshLite:Services:payment:Endpoints:0"] = "http://10.0.0.7:8080",
            ["MeshLite:Services:payment:Port"] = "80",
            ["MeshLite:Services:ledger:Namespace"] = "finance",
            ["MeshLite:Services:ledger:Endpoints:0"] = "http://10.0.0.8:8080/",
        };
        foreach (var (key, value) in values)
        {
            all[key] = value;
        }

        return new RouteTable(MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(all).Build()));
    }

    [Theory]
    [InlineData("payment")]
    [InlineData("payment:8080")]
    [InlineData("PAYMENT")]
    [InlineData("payment.default")]
    [InlineData("payment.default.svc")]
    [InlineData("payment.default.svc.cluster.local")]
    [InlineData("payment.default.svc.cluster.local:80")]
    public void Outbound_AnyNameOfARegistryService_WithOrWithoutPort_IsItsRoute(string host)
    {
        var route = Table().Outbound(new HostString(host));

        Assert.Equal(MeshRouteKind.Registry, route.Kind);
        Assert.Equal("outbound|80||payment.default.svc.cluster.local", route.ClusterName);
        Assert.Equal("payment.default.svc.cluster.local:80/*", route.OperationName);
    }

    [Fact]
    public void Outbound_AServiceInAnotherNamespace_IsFoundByItsNamespacedNames()
    {
        var table = Table();

        Assert.Equal("outbound|80||ledger.finance.svc.cluster.local", table.Outbound(new HostString("ledger.finance")).ClusterName);
        Assert.Equal(MeshRouteKind.Passthrough, table.Outbound(new HostString("ledger.default")).Kind);
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("10.0.0.7:8080")]
    [InlineData("[::1]:8080")]
    [InlineData("")]
    [InlineData("payment.other")]
    public void Outbound_UnknownHost_IsPassthrough_UnderAllowAny(string host) =>
        Assert.Same(RouteTable.Passthrough, Table().Outbound(new HostString(host)));

    [Fact]
    public void Outbound_UnknownHost_IsTheBlackHole_UnderRegistryOnly()
    {
        var table = Table(("MeshLite:OutboundTrafficPolicy", "REGISTRY_ONLY"));

        Assert.Same(RouteTable.BlackHole, table.Outbound(new HostString("example.com")));
        Assert.Equal(MeshRouteKind.Registry, table.Outbound(new HostString("payment")).Kind);
        Assert.DoesNotContain(table.Clusters, c => c.Name == MeshRoute.PassthroughCluster);
    }

    [Fact]
    public void Clusters_AreIstiosNames_WithTheirEndpointsAndPolicies()
    {
        var table = Table(("MeshLite:Services:payment:Timeout", "00:00:02"));

        Assert.Equal("inbound|8080||", table.Inbound.ClusterName);
        Assert.Equal(["inbound|8080||", "outbound|80||ledger.finance.svc.cluster.local", "outbound|80||payment.default.svc.cluster.local", MeshRoute.PassthroughCluster],
            table.Clusters.Select(c => c.Name));
        var payment = table.Clusters.Single(c => c.Name.EndsWith("payment.default.svc.cluster.local", StringComparison.Ordinal));
        Assert.Equal(["http://10.0.0.7:8080"], payment.Endpoints);
        Assert.Equal(TimeSpan.FromSeconds(2), payment.Policy?.Timeout);
        Assert.Null(table.Clusters.Single(c => c.Name.Contains("ledger", StringComparison.Ordinal)).Policy);
    }
}
