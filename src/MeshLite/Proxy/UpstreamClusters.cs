using MeshLite.Hops;
using MeshLite.Routing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>One endpoint of a cluster, with the requests in flight to it (what Envoy's least-request balancer compares).</summary>
internal sealed class UpstreamEndpoint
{
    private int _active;

    public UpstreamEndpoint(string address)
    {
        Address = address.TrimEnd('/');
        Authority = Uri.TryCreate(Address, UriKind.Absolute, out var uri) ? uri.Authority : Address;
    }

    /// <summary>The destination prefix handed to the forwarder (<c>http://10.0.0.7:8080</c>).</summary>
    public string Address { get; }

    /// <summary><c>%UPSTREAM_HOST%</c>: <c>10.0.0.7:8080</c>.</summary>
    public string Authority { get; }

    public int ActiveRequests => Volatile.Read(ref _active);

    public void Enter() => Interlocked.Increment(ref _active);

    public void Leave() => Interlocked.Decrement(ref _active);
}

/// <summary>
/// A cluster as the forwarder uses it: its endpoints, the HTTP client YARP's factory built for it (with the retry
/// handler when the cluster has a policy) and the request settings (the route timeout as YARP's activity timeout).
/// </summary>
internal sealed class UpstreamCluster
{
    public UpstreamCluster(ClusterDefinition definition, UpstreamEndpoint[] endpoints, HttpMessageInvoker client, IReadOnlyDictionary<string, string>? metadata)
    {
        Name = definition.Name;
        Policy = definition.Policy;
        Endpoints = endpoints;
        Client = client;
        Metadata = metadata;

        // Istio sets no timeout unless the route has one, and YARP's own 100 s activity timeout would end a quiet long
        // poll or stream as 504 UT. With a timeout set, a silence that long while the body streams ends it too.
        RequestConfig = new ForwarderRequestConfig { ActivityTimeout = Policy?.Timeout ?? Timeout.InfiniteTimeSpan };
    }

    public string Name { get; }
    public UpstreamPolicy? Policy { get; }
    public UpstreamEndpoint[] Endpoints { get; }
    public HttpMessageInvoker Client { get; }
    public ForwarderRequestConfig RequestConfig { get; }
    public IReadOnlyDictionary<string, string>? Metadata { get; }

    /// <summary>Envoy's least-request balancing (power of two choices): of two endpoints drawn at random, the one with fewer requests in flight.</summary>
    public UpstreamEndpoint? Pick()
    {
        var endpoints = Endpoints;
        switch (endpoints.Length)
        {
            case 0:
                return null;
            case 1:
                return endpoints[0];
        }

        var first = Random.Shared.Next(endpoints.Length);
        var second = Random.Shared.Next(endpoints.Length - 1);
        if (second >= first)
        {
            second++;
        }

        var a = endpoints[first];
        var b = endpoints[second];
        return a.ActiveRequests <= b.ActiveRequests ? a : b;
    }
}

/// <summary>
/// The clusters of one configuration version, built from its <see cref="RouteTable"/>. A cluster whose client
/// settings and policy did not change keeps its client (and so its pooled connections) across a reload.
/// </summary>
internal sealed class UpstreamClusters
{
    private readonly Dictionary<string, UpstreamCluster> _byName = new(StringComparer.Ordinal);

    private UpstreamClusters(RouteTable routes)
    {
        Routes = routes;
    }

    public RouteTable Routes { get; }

    public UpstreamCluster Inbound { get; private set; } = null!;

    public UpstreamCluster? Passthrough { get; private set; }

    public IEnumerable<UpstreamCluster> All => _byName.Values;

    public UpstreamCluster? Find(string? name) => name is not null && _byName.TryGetValue(name, out var cluster) ? cluster : null;

    /// <summary>The cluster a route sends to, or null when the route sends nowhere (black hole, no route).</summary>
    public UpstreamCluster? For(MeshRoute route) => route.Kind switch
    {
        MeshRouteKind.Inbound => Inbound,
        MeshRouteKind.Passthrough => Passthrough,
        MeshRouteKind.Registry => Find(route.ClusterName),
        _ => null,
    };

    public static UpstreamClusters Build(RouteTable routes, UpstreamClusters? previous, UpstreamRetryMetrics retryMetrics, UpstreamHandlerOverride? handlerOverride = null)
    {
        var clusters = new UpstreamClusters(routes);
        var factory = new SidecarHttpClientFactory(routes, retryMetrics, handlerOverride);
        foreach (var definition in routes.Clusters)
        {
            var old = previous?.Find(definition.Name);
            var metadata = definition.Policy is not null || definition.RulePolicies
                ? new Dictionary<string, string> { [UpstreamPolicy.MetadataKey] = (definition.Policy?.Fingerprint ?? "none") + (definition.RulePolicies ? ";rules" : "") }
                : null;
            var client = factory.CreateClient(new ForwarderHttpClientContext
            {
                ClusterId = definition.Name,
                // Every cluster uses YARP's default client settings; what differs between versions is the policy, in the metadata.
                OldConfig = HttpClientConfig.Empty,
                OldMetadata = old?.Metadata,
                OldClient = old?.Client,
                NewConfig = HttpClientConfig.Empty,
                NewMetadata = metadata,
            });

            // An endpoint that stays keeps its in-flight count, so balancing is not reset by an edit.
            var endpoints = definition.Endpoints
                .Select(address => old?.Endpoints.FirstOrDefault(e => string.Equals(e.Address, address.TrimEnd('/'), StringComparison.Ordinal)) ?? new UpstreamEndpoint(address))
                .ToArray();
            var cluster = new UpstreamCluster(definition, endpoints, client, metadata);
            clusters._byName[definition.Name] = cluster;
            if (string.Equals(definition.Name, routes.Inbound.ClusterName, StringComparison.Ordinal))
            {
                clusters.Inbound = cluster;
            }
            else if (definition.Name == MeshRoute.PassthroughCluster)
            {
                clusters.Passthrough = cluster;
            }
        }

        return clusters;
    }
}

/// <summary>The routes and clusters of the configuration version in effect; replaced whole, so a request uses one version throughout.</summary>
internal sealed class LiveUpstreams
{
    private readonly UpstreamRetryMetrics _retryMetrics;
    private readonly UpstreamHandlerOverride? _handlerOverride;
    private UpstreamClusters _current;

    public LiveUpstreams(Configuration.MeshLiteSettings settings, UpstreamRetryMetrics retryMetrics, UpstreamHandlerOverride? handlerOverride = null)
    {
        _retryMetrics = retryMetrics;
        _handlerOverride = handlerOverride;
        _current = UpstreamClusters.Build(new RouteTable(settings), previous: null, retryMetrics, handlerOverride);
    }

    public UpstreamClusters Current => Volatile.Read(ref _current);

    public UpstreamClusters Update(Configuration.MeshLiteSettings settings)
    {
        var next = UpstreamClusters.Build(new RouteTable(settings), Current, _retryMetrics, _handlerOverride);
        Volatile.Write(ref _current, next);
        return next;
    }
}

/// <summary>
/// Replaces the socket handler under every cluster's client (the retry handler stays on top): how the in-process
/// benchmarks run the whole hop pipeline without sockets. Never registered by the sidecar itself.
/// </summary>
internal sealed record UpstreamHandlerOverride(Func<HttpMessageHandler> Create);
