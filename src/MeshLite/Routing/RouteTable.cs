using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Routing;

/// <summary>
/// A cluster as one configuration version defines it: Istio's name, its endpoint addresses, its router policy, and
/// whether VirtualService rules send to it (each with its own policy, so its client applies each request's).
/// </summary>
internal sealed record ClusterDefinition(string Name, IReadOnlyList<string> Endpoints, UpstreamPolicy? Policy, bool RulePolicies = false);

/// <summary>
/// One configuration version's routes, named as Istio names them: <c>inbound|8080||</c> to the local app,
/// <c>outbound|80||payment.default.svc.cluster.local</c> per registry service (matched on its short name, the
/// namespaced names and the FQDN, with or without port), <c>PassthroughCluster</c> for every other host, or
/// <c>BlackHoleCluster</c> under <c>REGISTRY_ONLY</c>. Immutable: a reload builds a new one. Choosing a route is one
/// dictionary lookup by host, with no allocation.
/// </summary>
internal sealed class RouteTable
{
    private readonly Dictionary<string, MeshRoute> _byHost = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, MeshRoute>.AlternateLookup<ReadOnlySpan<char>> _byHostSpan;
    private readonly MeshRoute _unknownHost;
    private readonly Dictionary<MeshRoute, RouteRule[]> _rules = new(ReferenceEqualityComparer.Instance);

    public RouteTable(MeshLiteSettings settings)
    {
        var options = settings.Options;
        var clusters = new List<ClusterDefinition>();
        Inbound = new MeshRoute(MeshRouteKind.Inbound, ListenerKind.Inbound, settings.InboundClusterName, settings.ServiceName,
            settings.InboundOperationName, options.Inbound.AppProtocol, settings.Namespace, settings.ServiceFqdn);
        clusters.Add(new ClusterDefinition(settings.InboundClusterName, [$"http://127.0.0.1:{settings.AppPort}"], UpstreamPolicy.From(null, options.Inbound.Timeout)));

        var registry = new Dictionary<string, MeshRoute>(StringComparer.Ordinal);
        foreach (var (name, service) in options.Services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            // A name with a dot is a host outside Kubernetes (a ServiceEntry's api.example.com): it is its own FQDN.
            var external = name.Contains('.', StringComparison.Ordinal);
            var fqdn = external ? name : $"{name}.{service.Namespace}.svc.{options.ClusterDomain}";
            var route = new MeshRoute(MeshRouteKind.Registry, ListenerKind.Outbound, $"outbound|{service.Port}||{fqdn}", name,
                $"{fqdn}:{service.Port}/*", service.Protocol, service.Namespace, fqdn);
            registry[name] = route;
            foreach (var host in external ? [name] : (string[])[name, $"{name}.{service.Namespace}", $"{name}.{service.Namespace}.svc", fqdn])
            {
                _byHost.TryAdd(host, route);
            }
        }

        // A cluster that VirtualService rules send to applies each request's policy (the rule's replaces its own).
        var rulePolicies = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, service) in options.Services)
        {
            if (service.Routes.Count > 0)
            {
                var rules = service.Routes.Select(r => new RouteRule(r, s => registry[s], name)).ToArray();
                _rules[registry[name]] = rules;
                rulePolicies.UnionWith(rules.SelectMany(r => r.Destinations).Select(d => d.ClusterName!));
            }
        }

        foreach (var (name, service) in options.Services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var cluster = registry[name].ClusterName!;
            clusters.Add(new ClusterDefinition(cluster, service.Endpoints, UpstreamPolicy.From(service.Retries, service.Timeout), rulePolicies.Contains(cluster)));
        }

        InboundFault = FaultPolicy.From(options.Fault);

        _byHostSpan = _byHost.GetAlternateLookup<ReadOnlySpan<char>>();
        RegistryOnly = settings.RegistryOnly;
        _unknownHost = RegistryOnly ? BlackHole : Passthrough;
        if (!RegistryOnly)
        {
            // The address is a placeholder: each passthrough request goes to its own Host.
            clusters.Add(new ClusterDefinition(MeshRoute.PassthroughCluster, ["http://passthrough.invalid"], Policy: null));
        }

        Clusters = clusters;
    }

    public MeshRoute Inbound { get; }

    /// <summary><c>MeshLite:Fault</c>, for requests to the local app; null when it cannot fire.</summary>
    public FaultPolicy? InboundFault { get; }

    public bool RegistryOnly { get; }

    public IReadOnlyList<ClusterDefinition> Clusters { get; }

    public static MeshRoute Passthrough { get; } = new(MeshRouteKind.Passthrough, ListenerKind.Outbound, MeshRoute.PassthroughCluster, null, null, UpstreamProtocols.Auto);
    /// <summary>A registry host whose VirtualService rules all missed: Envoy answers 404 <c>NR</c>.</summary>
    public static MeshRoute NoRoute { get; } = new(MeshRouteKind.NoRoute, ListenerKind.Outbound, null, null, null, UpstreamProtocols.Auto);

    public static MeshRoute BlackHole { get; } = new(MeshRouteKind.BlackHole, ListenerKind.Outbound, MeshRoute.BlackHoleCluster, null, null, UpstreamProtocols.Auto);

    /// <summary>
    /// The route of a request on the outbound listener, by its <c>Host</c> (<c>payment</c>, <c>payment:8080</c>,
    /// <c>payment.default.svc.cluster.local</c>, …; the port is not part of the match).
    /// </summary>
    public MeshRoute Outbound(HostString host)
    {
        var name = HostName(host.Value);
        return !name.IsEmpty && _byHostSpan.TryGetValue(name, out var route) ? route : _unknownHost;
    }

    /// <summary>The VirtualService rules of a registry route, or null when it has none (every call goes to the service itself).</summary>
    public RouteRule[]? RulesOf(MeshRoute route) => _rules.Count > 0 && _rules.TryGetValue(route, out var rules) ? rules : null;

    /// <summary>The host part of an authority; an IP literal in brackets keeps its brackets (it never names a service).</summary>
    private static ReadOnlySpan<char> HostName(string? authority)
    {
        var value = authority.AsSpan();
        if (value.IsEmpty || value[0] == '[')
        {
            return value;
        }

        var colon = value.IndexOf(':');
        return colon < 0 ? value : value[..colon];
    }
}
