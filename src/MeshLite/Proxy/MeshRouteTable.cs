using MeshLite.Configuration;
using MeshLite.Hops;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// The service registry as YARP routes and clusters, named as Istio names them: <c>inbound|8080||</c> to the local
/// app, <c>outbound|80||payment.default.svc.cluster.local</c> per registry service (matched on its short name, the
/// namespaced names and the FQDN, with or without port), and <c>PassthroughCluster</c> for everything else.
/// </summary>
internal sealed class MeshRouteTable
{
    public const string InboundRouteId = "inbound";
    public const string PassthroughRouteId = "outbound-passthrough";
    private const string CatchAll = "/{**catch-all}";

    private readonly Dictionary<string, MeshRoute> _byRouteId = new(StringComparer.Ordinal);

    public MeshRouteTable(MeshLiteSettings settings)
    {
        var options = settings.Options;
        var routes = new List<RouteConfig>();
        var clusters = new List<ClusterConfig>();

        var inbound = new MeshRoute(MeshRouteKind.Inbound, ListenerKind.Inbound, settings.InboundClusterName, settings.ServiceName,
            settings.InboundOperationName, options.Inbound.AppProtocol, settings.Namespace, settings.ServiceFqdn);
        Add(routes, new RouteConfig { RouteId = InboundRouteId, ClusterId = inbound.ClusterName, Match = new RouteMatch { Path = CatchAll } }, inbound);
        clusters.Add(Cluster(inbound.ClusterName!, [$"http://127.0.0.1:{settings.AppPort}"], options.Inbound.Timeout));

        foreach (var (name, service) in options.Services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var fqdn = $"{name}.{service.Namespace}.svc.cluster.local";
            var route = new MeshRoute(MeshRouteKind.Registry, ListenerKind.Outbound, $"outbound|{service.Port}||{fqdn}", name,
                $"{fqdn}:{service.Port}/*", service.Protocol, service.Namespace, fqdn);
            string[] names = [name, $"{name}.{service.Namespace}", $"{name}.{service.Namespace}.svc", fqdn];
            var hosts = names.Concat(names.Select(n => n + ":*")).ToArray();
            Add(routes, new RouteConfig
            {
                RouteId = "outbound:" + name,
                ClusterId = route.ClusterName,
                Match = new RouteMatch { Path = CatchAll, Hosts = hosts },
            }, route);
            clusters.Add(Cluster(route.ClusterName!, service.Endpoints, service.Timeout));
        }

        if (!settings.RegistryOnly)
        {
            var passthrough = new MeshRoute(MeshRouteKind.Passthrough, ListenerKind.Outbound, MeshRoute.PassthroughCluster, null, null, UpstreamProtocols.Auto);
            Add(routes, new RouteConfig
            {
                RouteId = PassthroughRouteId,
                ClusterId = MeshRoute.PassthroughCluster,
                Order = 1000,
                Match = new RouteMatch { Path = CatchAll },
            }, passthrough);

            // The address is a placeholder: the passthrough transform sends each request to its own Host.
            clusters.Add(Cluster(MeshRoute.PassthroughCluster, ["http://passthrough.invalid/"], null));
        }

        Routes = routes;
        Clusters = clusters;
    }

    public IReadOnlyList<RouteConfig> Routes { get; }
    public IReadOnlyList<ClusterConfig> Clusters { get; }

    public static MeshRoute BlackHole { get; } = new(MeshRouteKind.BlackHole, ListenerKind.Outbound, MeshRoute.BlackHoleCluster, null, null, UpstreamProtocols.Auto);
    public static MeshRoute InboundNoRoute { get; } = new(MeshRouteKind.NoRoute, ListenerKind.Inbound, null, null, null, UpstreamProtocols.Auto);
    public static MeshRoute OutboundNoRoute { get; } = new(MeshRouteKind.NoRoute, ListenerKind.Outbound, null, null, null, UpstreamProtocols.Auto);

    public MeshRoute? Find(string routeId) => _byRouteId.GetValueOrDefault(routeId);

    private void Add(List<RouteConfig> routes, RouteConfig route, MeshRoute meshRoute)
    {
        routes.Add(route);
        _byRouteId[route.RouteId] = meshRoute;
    }

    private static ClusterConfig Cluster(string id, IReadOnlyList<string> endpoints, TimeSpan? timeout) => new()
    {
        ClusterId = id,
        LoadBalancingPolicy = "PowerOfTwoChoices",
        HttpRequest = timeout is null ? null : new ForwarderRequestConfig { ActivityTimeout = timeout },
        Destinations = endpoints
            .Select((address, i) => (address, i))
            .ToDictionary(e => $"endpoint-{e.i}", e => new DestinationConfig { Address = e.address }),
    };
}
