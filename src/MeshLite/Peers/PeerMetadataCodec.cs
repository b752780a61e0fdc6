using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using MeshLite.Hops;

namespace MeshLite.Peers;

/// <summary>
/// Istio's metadata exchange on the wire: <c>x-envoy-peer-metadata</c> is the base64 of a protobuf
/// <c>google.protobuf.Struct</c> (<c>NAME</c>, <c>NAMESPACE</c>, <c>WORKLOAD_NAME</c>, <c>CLUSTER_ID</c>,
/// <c>LABELS</c>{app, version, canonical name and revision}), so MeshLite and Istio sidecars understand each other.
/// </summary>
public static class PeerMetadataCodec
{
    public const string Header = "x-envoy-peer-metadata";
    public const string IdHeader = "x-envoy-peer-metadata-id";
    private const string CanonicalNameLabel = "service.istio.io/canonical-name";
    private const string CanonicalRevisionLabel = "service.istio.io/canonical-revision";

    /// <summary>Istio's own values are a few hundred bytes; anything near Kestrel's header limit is not a workload identity.</summary>
    private const int MaxHeaderLength = 4096;

    /// <summary>The header value: base64 (with padding) of the Struct, keys sorted, as Istio's sidecars write it.</summary>
    public static string Encode(this PeerMetadata metadata)
    {
        var labels = new Struct();
        labels.Fields.Add("app", Value.ForString(metadata.App));
        labels.Fields.Add(CanonicalNameLabel, Value.ForString(metadata.CanonicalService));
        labels.Fields.Add(CanonicalRevisionLabel, Value.ForString(metadata.CanonicalRevision));
        labels.Fields.Add("version", Value.ForString(metadata.Version));

        var fields = new Struct();
        fields.Fields.Add("CLUSTER_ID", Value.ForString(metadata.ClusterId));
        fields.Fields.Add("LABELS", Value.ForStruct(labels));
        fields.Fields.Add("NAME", Value.ForString(metadata.Name));
        fields.Fields.Add("NAMESPACE", Value.ForString(metadata.Namespace));
        fields.Fields.Add("WORKLOAD_NAME", Value.ForString(metadata.Workload));
        return fields.ToByteString().ToBase64();
    }

    /// <summary>
    /// Reads a header value sent by any caller, so anything may arrive: bad base64, truncated or overflowing lengths,
    /// deep nesting. None of it throws; the caller is then <see cref="PeerMetadata.Unknown"/>.
    /// </summary>
    public static bool TryDecode(string value, out PeerMetadata metadata)
    {
        metadata = PeerMetadata.Unknown;
        if (value.Length > MaxHeaderLength)
        {
            return false;
        }

        var bytes = new byte[(value.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(value, bytes, out var length))
        {
            return false;
        }

        Struct fields;
        try
        {
            fields = Struct.Parser.ParseFrom(bytes.AsSpan(0, length));
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }

        var labels = fields.Fields.TryGetValue("LABELS", out var l) && l.KindCase == Value.KindOneofCase.StructValue ? l.StructValue : null;
        var workload = Get(fields, "WORKLOAD_NAME", "unknown");
        metadata = new PeerMetadata(
            Get(fields, "NAME", "unknown"),
            Get(fields, "NAMESPACE", "unknown"),
            workload,
            Get(fields, "CLUSTER_ID", "unknown"),
            Get(labels, "app", "unknown"),
            Get(labels, "version", "unknown"),
            Get(labels, CanonicalRevisionLabel, "latest"),
            Get(labels, CanonicalNameLabel, Get(labels, "app", workload)));
        return true;
    }

    private static string Get(Struct? from, string key, string fallback) =>
        from is not null && from.Fields.TryGetValue(key, out var v) && v.KindCase == Value.KindOneofCase.StringValue && v.StringValue.Length > 0
            ? v.StringValue
            : fallback;
}

/// <summary>
/// Decoded peer identities by header value, so a steady mesh decodes each peer once. Bounded: past the limit, unseen
/// values read as <see cref="PeerMetadata.Unknown"/>, which also bounds the metric labels they feed.
/// </summary>
internal sealed class PeerMetadataCache
{
    private const int Capacity = 1024;
    private readonly ConcurrentDictionary<string, PeerMetadata> _byHeader = new(StringComparer.Ordinal);

    /// <param name="header">The header's value as received.</param>
    /// <param name="invalid">Set when the value could not be decoded (not when the cache is merely full).</param>
    public PeerMetadata Get(string? header, out bool invalid)
    {
        invalid = false;
        if (string.IsNullOrEmpty(header))
        {
            return PeerMetadata.Unknown;
        }

        if (_byHeader.TryGetValue(header, out var known))
        {
            return known;
        }

        if (!PeerMetadataCodec.TryDecode(header, out var decoded))
        {
            invalid = true;
            return PeerMetadata.Unknown;
        }

        return _byHeader.Count >= Capacity ? PeerMetadata.Unknown : _byHeader.GetOrAdd(header, decoded);
    }
}
