using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using MeshLite.Configuration;

namespace MeshLite.Metrics;

/// <summary>
/// A workload's identity as Istio's metadata exchange carries it: <c>x-envoy-peer-metadata</c> is the base64 of a
/// protobuf <c>google.protobuf.Struct</c> (<c>NAME</c>, <c>NAMESPACE</c>, <c>WORKLOAD_NAME</c>, <c>CLUSTER_ID</c>,
/// <c>LABELS</c>{app, version, canonical name and revision}), so MeshLite and Istio sidecars understand each other.
/// </summary>
public sealed class PeerMetadata
{
    public const string Header = "x-envoy-peer-metadata";
    public const string IdHeader = "x-envoy-peer-metadata-id";
    private const string CanonicalNameLabel = "service.istio.io/canonical-name";
    private const string CanonicalRevisionLabel = "service.istio.io/canonical-revision";

    /// <summary>Istio's own values are a few hundred bytes; anything near Kestrel's header limit is not a workload identity.</summary>
    private const int MaxHeaderLength = 4096;

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

    internal static PeerMetadata Local(MeshLiteSettings settings)
    {
        var o = settings.Options;
        return new PeerMetadata(settings.PodName, settings.Namespace, o.Workload ?? settings.ServiceName, o.ClusterId,
            o.App ?? settings.ServiceName, o.Version ?? "unknown", o.CanonicalRevision, settings.ServiceName);
    }

    /// <summary>The header value: base64 (with padding) of the Struct, keys sorted, as Istio's sidecars write it.</summary>
    public string Encode()
    {
        var labels = new Struct();
        labels.Fields.Add("app", Value.ForString(App));
        labels.Fields.Add(CanonicalNameLabel, Value.ForString(CanonicalService));
        labels.Fields.Add(CanonicalRevisionLabel, Value.ForString(CanonicalRevision));
        labels.Fields.Add("version", Value.ForString(Version));

        var fields = new Struct();
        fields.Fields.Add("CLUSTER_ID", Value.ForString(ClusterId));
        fields.Fields.Add("LABELS", Value.ForStruct(labels));
        fields.Fields.Add("NAME", Value.ForString(Name));
        fields.Fields.Add("NAMESPACE", Value.ForString(Namespace));
        fields.Fields.Add("WORKLOAD_NAME", Value.ForString(Workload));
        return fields.ToByteString().ToBase64();
    }

    /// <summary>
    /// Reads a header value sent by any caller, so anything may arrive: bad base64, truncated or overflowing lengths,
    /// deep nesting. None of it throws; the caller is then <see cref="Unknown"/>.
    /// </summary>
    public static bool TryDecode(string value, out PeerMetadata metadata)
    {
        metadata = Unknown;
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

        if (!PeerMetadata.TryDecode(header, out var decoded))
        {
            invalid = true;
            return PeerMetadata.Unknown;
        }

        return _byHeader.Count >= Capacity ? PeerMetadata.Unknown : _byHeader.GetOrAdd(header, decoded);
    }
}
