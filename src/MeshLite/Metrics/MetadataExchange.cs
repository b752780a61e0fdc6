using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Metrics;

/// <summary>
/// Istio's metadata exchange between sidecars: the outbound side sends its identity with the request, the inbound side
/// records the caller's, removes the headers before the app sees them, and answers with its own. Peer identities become
/// the <c>source_*</c>/<c>destination_*</c> metric labels; an unknown peer is <c>unknown</c>. Passthrough traffic leaves
/// the mesh, so it carries nothing (Istio's IN_MESH mode).
/// </summary>
internal sealed class MetadataExchange
{
    private readonly string _localId;
    private readonly string _localMetadata;
    private readonly PeerMetadataCache _peers = new();

    public MetadataExchange(MeshLiteSettings settings)
    {
        _localId = settings.NodeId;
        _localMetadata = PeerMetadata.Local(settings).Encode();
    }

    public void OnRequest(IHeaderDictionary headers, HopFeature hop)
    {
        if (hop.Listener == ListenerKind.Inbound)
        {
            if (headers.TryGetValue(PeerMetadata.Header, out var metadata))
            {
                hop.Peer = _peers.Get(metadata.Count == 1 ? metadata[0] : null);
                hop.PeerMetadataRequested = true;
                headers.Remove(PeerMetadata.Header);
            }

            headers.Remove(PeerMetadata.IdHeader);
        }
        else if (hop.Route.Kind == MeshRouteKind.Registry)
        {
            headers[PeerMetadata.IdHeader] = _localId;
            headers[PeerMetadata.Header] = _localMetadata;
        }
    }

    public void OnResponse(IHeaderDictionary headers, HopFeature hop)
    {
        if (hop.Listener == ListenerKind.Outbound)
        {
            if (headers.TryGetValue(PeerMetadata.Header, out var metadata))
            {
                hop.Peer = _peers.Get(metadata.Count == 1 ? metadata[0] : null);
                headers.Remove(PeerMetadata.Header);
            }

            headers.Remove(PeerMetadata.IdHeader);
        }
        else if (hop.PeerMetadataRequested)
        {
            headers[PeerMetadata.IdHeader] = _localId;
            headers[PeerMetadata.Header] = _localMetadata;
        }
    }
}
