namespace MeshLite.Hops;

/// <summary>
/// A workload's identity, as Istio's metadata exchange carries it (the wire format is <c>Peers.PeerMetadataCodec</c>):
/// this sidecar's own, or the peer's on the other side of a hop.
/// </summary>
public sealed class PeerMetadata
{
    public static readonly PeerMetadata Unknown = new("unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "latest", "unknown");

    public PeerMetadata(string name, string @namespace, string workload, string clusterId, string app, string version, string canonicalRevision, string canonicalService)
    {
        Name = name;
        Namespace = @namespace;
        Workload = workload;
        ClusterId = clusterId;
        App = app;
        Version = version;
        CanonicalRevision = canonicalRevision;
        CanonicalService = canonicalService;
    }

    public string Name { get; }
    public string Namespace { get; }
    public string Workload { get; }
    public string ClusterId { get; }
    public string App { get; }
    public string Version { get; }
    public string CanonicalService { get; }
    public string CanonicalRevision { get; }

    /// <summary>Principal without mTLS, as Istio reports it.</summary>
    public static string Principal => "unknown";
}
