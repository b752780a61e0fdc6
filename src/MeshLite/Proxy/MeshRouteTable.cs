using MeshLite.Configuration;
using MeshLite.Hops;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// One configuration version's service registry as YARP routes and clusters, named as Istio names them: <c>inbound|8080||</c> to the local
/// app, <c>outbound|80||payment.default.svc.cluster.local</c> per registry service (matched on its short name, the
/// namespaced names and the FQDN, with or without port), and <c>PassthroughCluster</c> for everything else.
/// </summary>
internal sealed class MeshRouteTable
{
    public const string InboundRouteId = "inbound";
    public const string PassthroughRouteId = "outbound-passthrough";
    private const string CatchAll = "/{**catch-all}";

    private readonly Dictionary<string, MeshRoute> _byRouteId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UpstreamPolicy> _policies = new(StringComparer.Ordinal);

    public MeshRouteTable(MeshLiteSettings settings)
    {
        var options = settings.Options;
        var routes = new List<RouteConfig>();
        var clusters = new List<ClusterConfig>();

        var inbound = new MeshRoute(MeshRouteKind.Inbound, ListenerKind.Inbound, settings.InboundClusterName, settings.ServiceName,
            settings.InboundOperationName, options.Inbound.AppProtocol, settings.Namespace, settings.ServiceFqdn);
        Add(routes, new RouteConfig { RouteId = InboundRouteId, ClusterId = inbound.ClusterName, Match = new RouteMatch { Path = CatchAll } }, inbound);
        clusters.Add(Cluster(inbound.ClusterName!, [$"http://127.0.0.1:{settings.AppPort}"], UpstreamPolicy.From(null, options.Inbound.Timeout)));

        foreach (var (name, service) in options.Services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var fqdn = $"{name}.{service.Namespace}.svc.{options.ClusterDomain}";
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
            clusters.Add(Cluster(route.ClusterName!, service.Endpoints, UpstreamPolicy.From(service.Retries, service.Timeout)));
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
            clusters.Add(Cluster(MeshRoute.PassthroughCluster, ["http://passthrough.invalid/"], policy: null));
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

    /// <summary>The retry policy and timeout of a cluster, or null when it has neither.</summary>
    public UpstreamPolicy? Policy(string? clusterId) => clusterId is null ? null : _policies.GetValueOrDefault(clusterId);

    private void Add(List<RouteConfig> routes, RouteConfig route, MeshRoute meshRoute)
    {
        routes.Add(route);
        _byRouteId[route.RouteId] = meshRoute;
    }

    private ClusterConfig Cluster(string id, IReadOnlyList<string> endpoints, UpstreamPolicy? policy)
    {
        if (policy is not null)
        {
            _policies[id] = policy;
        }

        return new ClusterConfig
        {
            ClusterId = id,
            LoadBalancingPolicy = "PowerOfTwoChoices",

            // Istio sets no timeout unless the route has one, and YARP's own 100 s activity timeout would end a quiet
            // long poll or stream as 504 UT. With a timeout set, a silence that long while the body streams ends it too.
            HttpRequest = new ForwarderRequestConfig { ActivityTimeout = policy?.Timeout ?? Timeout.InfiniteTimeSpan },
            Metadata = policy is null ? null : new Dictionary<string, string> { [UpstreamPolicy.MetadataKey] = policy.Fingerprint },
            Destinations = endpoints
                .Select((address, i) => (address, i))
                .ToDictionary(e => $"endpoint-{e.i}", e => new DestinationConfig { Address = e.address }),
        };
    }
}

/// <summary>The route table of the configuration version in effect; replaced whole, before YARP is given its routes.</summary>
internal sealed class LiveRouteTable
{
    private MeshRouteTable _current;

    public LiveRouteTable(MeshLiteSettings settings) => _current = new MeshRouteTable(settings);

    public MeshRouteTable Current => Volatile.Read(ref _current);

    public MeshRouteTable Update(MeshLiteSettings settings)
    {
        var next = new MeshRouteTable(settings);
        Volatile.Write(ref _current, next);
        return next;
    }
}
