namespace MeshLite.Hops;

public enum MeshRouteKind : byte
{
    Inbound,
    Registry,
    Passthrough,
    BlackHole,
    NoRoute,
}

/// <summary>
/// What MeshLite knows of a route before any request: its listener, cluster and span name. Attached as endpoint
/// metadata, so the per-request work is a lookup, not string building.
/// </summary>
public sealed record MeshRoute(
    MeshRouteKind Kind,
    ListenerKind Listener,
    string? ClusterName,
    string? ServiceName,
    string? OperationName,
    string UpstreamProtocol,
    string? ServiceNamespace = null,
    string? ServiceHost = null,
    string? Name = null)
{
    /// <summary>Istio's <c>upstream_cluster.name</c> span tag: the cluster name and its (empty) observability suffix.</summary>
    public string? ClusterObservabilityName { get; } = ClusterName is null ? null : ClusterName + ";";

    /// <summary>Envoy's <c>%ROUTE_NAME%</c>: a VirtualService rule's name, or Istio's names for its default, passthrough and blackhole routes.</summary>
    public string RouteName => Name ?? Kind switch
    {
        MeshRouteKind.Passthrough => "allow_any",
        MeshRouteKind.BlackHole => "block_all",
        MeshRouteKind.NoRoute => "-",
        _ => "default",
    };

    public const string PassthroughCluster = "PassthroughCluster";
    public const string BlackHoleCluster = "BlackHoleCluster";
}
