using MeshLite.Configuration;
using MeshLite.Hops;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Routing.Tests;

/// <summary>VirtualService rules as the route table holds them: Istio's StringMatch semantics, first match wins, weights.</summary>
public class RouteRuleTests
{
    private static RouteTable Table(params (string Key, string Value)[] values)
    {
        var all = new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "frontend",
            ["MeshLite:Inbound:AppPort"] = "8080",
            ["MeshLite:Services:reviews:Endpoints:0"] = "http://10.0.0.7:9080",
            ["MeshLite:Services:ratings:Endpoints:0"] = "http://10.0.0.8:9080",
        };
        foreach (var (key, value) in values)
        {
            all["MeshLite:Services:reviews:Routes:" + key] = value;
        }

        return new RouteTable(MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(all).Build()));
    }

    private static HttpRequest Request(string path, string method = "GET", params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Request.Method = method;
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return context.Request;
    }

    private static string? Chosen(RouteTable table, HttpRequest request)
    {
        var rules = table.RulesOf(table.Outbound(new HostString("reviews")))!;
        return RouteRule.FirstMatch(rules, request, out _)?.PickDestination().RouteName;
    }

    [Fact]
    public void UriPrefix_IsAPlainStringPrefix_ExactIsExact_RegexIsAnchored()
    {
        var table = Table(
            ("0:Name", "exact"), ("0:Match:0:Uri:Exact", "/health"),
            ("1:Name", "prefix"), ("1:Match:0:Uri:Prefix", "/api"),
            ("2:Name", "regex"), ("2:Match:0:Uri:Regex", "/v[0-9]+/items"));

        Assert.Equal("exact", Chosen(table, Request("/health")));
        Assert.Equal("prefix", Chosen(table, Request("/apix")));
        Assert.Equal("prefix", Chosen(table, Request("/api/books")));
        Assert.Equal("regex", Chosen(table, Request("/v2/items")));
        Assert.Null(Chosen(table, Request("/v2/items/7")));
        Assert.Null(Chosen(table, Request("/healthz")));
    }

    [Fact]
    public void ConditionsInABlockAreAnded_BlocksAreOred_AndTheFirstMatchingRuleWins()
    {
        var table = Table(
            ("0:Name", "canary"), ("0:Match:0:Method", "GET"), ("0:Match:0:Headers:x-canary:Exact", "1"), ("0:Match:1:Headers:x-debug:Present", "true"),
            ("1:Name", "everything-else"));

        Assert.Equal("canary", Chosen(table, Request("/", "GET", ("x-canary", "1"))));
        Assert.Equal("everything-else", Chosen(table, Request("/", "POST", ("x-canary", "1"))));
        Assert.Equal("everything-else", Chosen(table, Request("/", "GET", ("x-canary", "2"))));
        Assert.Equal("canary", Chosen(table, Request("/", "DELETE", ("x-debug", "yes"))));
        Assert.Equal("everything-else", Chosen(table, Request("/")));
    }

    [Fact]
    public void Destinations_AreDrawnByWeight_AndEachCarriesTheRulesName_AndItsOwnCluster()
    {
        var table = Table(("0:Name", "split"), ("0:Destinations:0:Service", "reviews"), ("0:Destinations:0:Weight", "90"),
            ("0:Destinations:1:Service", "ratings"), ("0:Destinations:1:Weight", "10"));
        var rule = Assert.Single(table.RulesOf(table.Outbound(new HostString("reviews")))!);

        var picks = Enumerable.Range(0, 10_000).Select(_ => rule.PickDestination()).ToList();
        var ratings = picks.Count(r => r.ServiceName == "ratings");
        Assert.InRange(ratings, 700, 1300);
        Assert.All(picks, r => Assert.Equal("split", r.RouteName));
        Assert.Contains(picks, r => r.ClusterName == "outbound|80||ratings.default.svc.cluster.local");
    }

    [Fact]
    public void ARuleWithAPolicy_GivesItsDestinationClusterAPerRequestRetryHandler_AndItsOwnTimeoutAndFaults()
    {
        var table = Table(("0:Timeout", "00:00:02"), ("0:Retries:Attempts", "3"), ("0:Destinations:0:Service", "ratings"),
            ("0:Fault:Abort:Percentage", "100"), ("0:Fault:Abort:GrpcStatus", "14"));
        var rule = Assert.Single(table.RulesOf(table.Outbound(new HostString("reviews")))!);

        Assert.Equal(3, rule.Policy!.Retries);
        Assert.Equal(TimeSpan.FromSeconds(2), rule.RequestConfig.ActivityTimeout);
        Assert.Equal(14, rule.Fault!.GrpcStatus);
        Assert.True(rule.Fault.AbortFires());
        Assert.True(table.Clusters.Single(c => c.Name == "outbound|80||ratings.default.svc.cluster.local").RulePolicies);
        Assert.False(table.Clusters.Single(c => c.Name == "outbound|80||reviews.default.svc.cluster.local").RulePolicies);
        Assert.Null(table.RulesOf(table.Outbound(new HostString("ratings"))));
    }

    [Fact]
    public void AServiceNamedByAHost_IsItsOwnFqdn_AndAnsweredOnlyByThatName()
    {
        var table = new RouteTable(MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "frontend",
            ["MeshLite:Inbound:AppPort"] = "8080",
            ["MeshLite:Services:api.example.com:Endpoints:0"] = "http://203.0.113.9:80",
        }).Build()));

        var route = table.Outbound(new HostString("api.example.com:80"));
        Assert.Equal(MeshRouteKind.Registry, route.Kind);
        Assert.Equal("outbound|80||api.example.com", route.ClusterName);
        Assert.Equal(MeshRouteKind.Passthrough, table.Outbound(new HostString("api.example.com.default.svc.cluster.local")).Kind);
    }

    [Theory]
    [InlineData("0:Destinations:0:Service", "nowhere", "MeshLite:Services:reviews:Routes:0:Destinations:0:Service 'nowhere' is not a key of MeshLite:Services.")]
    [InlineData("0:Match:0:Uri:Regex", "(", "MeshLite:Services:reviews:Routes:0:Match:0:Uri:Regex '(' is not a regular expression")]
    [InlineData("0:Fault:Abort:Percentage", "120", "MeshLite:Services:reviews:Routes:0:Fault:Abort:Percentage '120' must be a percentage between 0 and 100.")]
    [InlineData("0:Fault:Abort:GrpcStatus", "20", "MeshLite:Services:reviews:Routes:0:Fault:Abort:GrpcStatus '20' is not a gRPC status code (0–16).")]
    [InlineData("0:Timeout", "-00:00:01", "MeshLite:Services:reviews:Routes:0:Timeout '-00:00:01' must be positive")]
    public void AnInvalidRule_IsRefusedByItsKey(string key, string value, string expected)
    {
        var error = Assert.Throws<MeshLiteConfigurationException>(() => Table((key, value)));
        Assert.Contains(error.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }
}
