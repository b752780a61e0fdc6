using BenchmarkDotNet.Attributes;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Benchmarks.Routing;

/// <summary>
/// Choosing a route on the outbound listener: the host lookup alone (a service without a VirtualService), and the host
/// lookup plus a VirtualService's rules — a header match that misses, a regex that misses, a prefix that matches, as
/// the bank-api demo's shape. Neither allocates.
/// </summary>
[MemoryDiagnoser]
public class RouteRuleBenchmarks
{
    private readonly RouteTable _table = Table();
    private readonly HttpRequest _request = Request();
    private readonly HostString _withRules = new("reviews");
    private readonly HostString _withoutRules = new("ratings:80");

    private static RouteTable Table() => new(MeshLiteSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["MeshLite:ServiceName"] = "frontend",
        ["MeshLite:Inbound:AppPort"] = "8080",
        ["MeshLite:Services:ratings:Endpoints:0"] = "http://10.0.0.8:9080",
        ["MeshLite:Services:reviews:Endpoints:0"] = "http://10.0.0.7:9080",
        ["MeshLite:Services:reviews:Routes:0:Match:0:Headers:x-canary:Exact"] = "1",
        ["MeshLite:Services:reviews:Routes:0:Fault:Abort:Percentage"] = "100",
        ["MeshLite:Services:reviews:Routes:1:Match:0:Uri:Regex"] = "/v[0-9]+/admin/.*",
        ["MeshLite:Services:reviews:Routes:1:Timeout"] = "00:00:01",
        ["MeshLite:Services:reviews:Routes:2:Match:0:Uri:Prefix"] = "/api/",
        ["MeshLite:Services:reviews:Routes:2:Match:0:Method"] = "GET",
        ["MeshLite:Services:reviews:Routes:2:Retries:Attempts"] = "2",
    }).Build()));

    private static HttpRequest Request()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/api/books/42";
        context.Request.Headers["x-request-id"] = "84961386-6d84-429d-98bd-c5aee93b5c88";
        return context.Request;
    }

    [Benchmark(Baseline = true)]
    public MeshRoute HostOnly()
    {
        var route = _table.Outbound(_withoutRules);
        return _table.RulesOf(route) is { } rules ? RouteRule.FirstMatch(rules, _request, out _)!.PickDestination() : route;
    }

    [Benchmark]
    public MeshRoute HostAndVirtualServiceRules()
    {
        var route = _table.Outbound(_withRules);
        return _table.RulesOf(route) is { } rules ? RouteRule.FirstMatch(rules, _request, out _)?.PickDestination() ?? RouteTable.NoRoute : route;
    }
}
