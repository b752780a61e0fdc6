using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using Microsoft.Extensions.Primitives;
using Prometheus;

namespace MeshLite.Peers;

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
    private readonly Counter.Child _invalidFromCaller;
    private readonly Counter.Child _invalidFromUpstream;

    public MetadataExchange(MeshLiteSettings settings, MeshLiteMetrics metrics)
    {
        _localId = settings.NodeId;
        _localMetadata = Local(settings).Encode();
        var invalid = metrics.Factory.CreateCounter("meshlite_peer_metadata_invalid_total",
            "x-envoy-peer-metadata values that could not be decoded (or were repeated); the peer was recorded as unknown.", ["direction"]);
        _invalidFromCaller = invalid.WithLabels("request");
        _invalidFromUpstream = invalid.WithLabels("response");
        _invalidFromCaller.Publish();
        _invalidFromUpstream.Publish();
    }

    /// <summary>This sidecar's own identity, as it tells its peers.</summary>
    internal static PeerMetadata Local(MeshLiteSettings settings)
    {
        var o = settings.Options;
        return new PeerMetadata(settings.PodName, settings.Namespace, o.Workload ?? settings.ServiceName, o.ClusterId,
            o.App ?? settings.ServiceName, o.Version ?? "unknown", o.CanonicalRevision, settings.ServiceName);
    }

    public void OnRequest(IHeaderDictionary headers, HopFeature hop)
    {
        if (hop.Listener == ListenerKind.Inbound)
        {
            if (headers.TryGetValue(PeerMetadataCodec.Header, out var metadata))
            {
                hop.Peer = Decode(metadata, _invalidFromCaller);
                hop.PeerMetadataRequested = true;
                headers.Remove(PeerMetadataCodec.Header);
            }

            headers.Remove(PeerMetadataCodec.IdHeader);
        }
        else if (hop.Route.Kind == MeshRouteKind.Registry)
        {
            headers[PeerMetadataCodec.IdHeader] = _localId;
            headers[PeerMetadataCodec.Header] = _localMetadata;
        }
    }

    public void OnResponse(IHeaderDictionary headers, HopFeature hop)
    {
        if (hop.Listener == ListenerKind.Outbound)
        {
            if (headers.TryGetValue(PeerMetadataCodec.Header, out var metadata))
            {
                hop.Peer = Decode(metadata, _invalidFromUpstream);
                headers.Remove(PeerMetadataCodec.Header);
            }

            headers.Remove(PeerMetadataCodec.IdHeader);
        }
        else if (hop.PeerMetadataRequested)
        {
            headers[PeerMetadataCodec.IdHeader] = _localId;
            headers[PeerMetadataCodec.Header] = _localMetadata;
        }
    }

    private PeerMetadata Decode(StringValues values, Counter.Child invalid)
    {
        var peer = _peers.Get(values.Count == 1 ? values[0] : null, out var undecodable);
        if (undecodable || values.Count > 1)
        {
            invalid.Inc();
        }

        return peer;
    }
}
