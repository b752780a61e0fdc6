using System.Collections.Concurrent;
using System.Text;
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

    /// <summary>The header value: base64 (with padding) of the deterministic Struct encoding, keys sorted.</summary>
    public string Encode()
    {
        var labels = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["app"] = App,
            [CanonicalNameLabel] = CanonicalService,
            [CanonicalRevisionLabel] = CanonicalRevision,
            ["version"] = Version,
        };
        var fields = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["CLUSTER_ID"] = ClusterId,
            ["LABELS"] = labels,
            ["NAME"] = Name,
            ["NAMESPACE"] = Namespace,
            ["WORKLOAD_NAME"] = Workload,
        };
        using var buffer = new MemoryStream();
        WriteStruct(buffer, fields);
        return Convert.ToBase64String(buffer.ToArray());
    }

    public static bool TryDecode(string value, out PeerMetadata metadata)
    {
        metadata = Unknown;
        try
        {
            var bytes = Convert.FromBase64String(value);
            var fields = ReadStruct(bytes);
            var labels = fields.TryGetValue("LABELS", out var l) && l is Dictionary<string, object> d ? d : [];
            string Get(Dictionary<string, object> from, string key, string fallback) => from.TryGetValue(key, out var v) && v is string { Length: > 0 } s ? s : fallback;
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
        catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidDataException)
        {
            return false;
        }
    }

    private static void WriteStruct(Stream stream, SortedDictionary<string, object> fields)
    {
        foreach (var (key, value) in fields)
        {
            using var entry = new MemoryStream();
            WriteBytes(entry, 1, Encoding.UTF8.GetBytes(key));
            using var valueMessage = new MemoryStream();
            if (value is string s)
            {
                WriteBytes(valueMessage, 3, Encoding.UTF8.GetBytes(s));
            }
            else
            {
                using var nested = new MemoryStream();
                WriteStruct(nested, (SortedDictionary<string, object>)value);
                WriteBytes(valueMessage, 5, nested.ToArray());
            }

            WriteBytes(entry, 2, valueMessage.ToArray());
            WriteBytes(stream, 1, entry.ToArray());
        }
    }

    private static void WriteBytes(Stream stream, int field, byte[] bytes)
    {
        WriteVarint(stream, (ulong)((field << 3) | 2));
        WriteVarint(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        stream.WriteByte((byte)value);
    }

    private static Dictionary<string, object> ReadStruct(ReadOnlySpan<byte> data)
    {
        var fields = new Dictionary<string, object>(StringComparer.Ordinal);
        var position = 0;
        while (position < data.Length)
        {
            var (field, wire) = ReadTag(data, ref position);
            if (field == 1 && wire == 2)
            {
                var entry = ReadLengthDelimited(data, ref position);
                string? key = null;
                object? value = null;
                var p = 0;
                while (p < entry.Length)
                {
                    var (f, w) = ReadTag(entry, ref p);
                    if (f == 1 && w == 2)
                    {
                        key = Encoding.UTF8.GetString(ReadLengthDelimited(entry, ref p));
                    }
                    else if (f == 2 && w == 2)
                    {
                        value = ReadValue(ReadLengthDelimited(entry, ref p));
                    }
                    else
                    {
                        Skip(entry, ref p, w);
                    }
                }

                if (key is not null && value is not null)
                {
                    fields[key] = value;
                }
            }
            else
            {
                Skip(data, ref position, wire);
            }
        }

        return fields;
    }

    private static object? ReadValue(ReadOnlySpan<byte> data)
    {
        object? value = null;
        var p = 0;
        while (p < data.Length)
        {
            var (f, w) = ReadTag(data, ref p);
            if (f == 3 && w == 2)
            {
                value = Encoding.UTF8.GetString(ReadLengthDelimited(data, ref p));
            }
            else if (f == 5 && w == 2)
            {
                value = ReadStruct(ReadLengthDelimited(data, ref p));
            }
            else
            {
                Skip(data, ref p, w);
            }
        }

        return value;
    }

    private static (int Field, int Wire) ReadTag(ReadOnlySpan<byte> data, ref int position)
    {
        var tag = ReadVarint(data, ref position);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = data[position++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new InvalidDataException("varint too long");
    }

    private static ReadOnlySpan<byte> ReadLengthDelimited(ReadOnlySpan<byte> data, ref int position)
    {
        var length = checked((int)ReadVarint(data, ref position));
        var slice = data.Slice(position, length);
        position += length;
        return slice;
    }

    private static void Skip(ReadOnlySpan<byte> data, ref int position, int wire)
    {
        switch (wire)
        {
            case 0: ReadVarint(data, ref position); break;
            case 1: position += 8; break;
            case 2: ReadLengthDelimited(data, ref position); break;
            case 5: position += 4; break;
            default: throw new InvalidDataException("wire type " + wire);
        }

        if (position > data.Length)
        {
            throw new InvalidDataException("truncated");
        }
    }
}

/// <summary>
/// Decoded peer identities by header value, so a steady mesh decodes each peer once. Bounded: past the limit, unseen
/// values read as <see cref="PeerMetadata.Unknown"/>, which also bounds the metric labels they feed.
/// </summary>
internal sealed class PeerMetadataCache
{
    private const int Capacity = 1024;
    private readonly ConcurrentDictionary<string, PeerMetadata> _byHeader = new(StringComparer.Ordinal);

    public PeerMetadata Get(string? header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return PeerMetadata.Unknown;
        }

        if (_byHeader.TryGetValue(header, out var known))
        {
            return known;
        }

        if (_byHeader.Count >= Capacity || !PeerMetadata.TryDecode(header, out var decoded))
        {
            return PeerMetadata.Unknown;
        }

        return _byHeader.GetOrAdd(header, decoded);
    }
}
