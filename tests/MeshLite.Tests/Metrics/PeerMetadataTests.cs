using MeshLite.Hops;
using MeshLite.Metrics;
using MeshLite.Peers;

namespace MeshLite.Metrics.Tests;

public class PeerMetadataTests
{
    // Built independently (a few lines of Python writing google.protobuf.Struct by the spec, keys sorted), so the
    // encoder is checked against the wire format rather than against itself.
    private const string IstioShaped = "ChoKCkNMVVNURVJfSUQSDBoKS3ViZXJuZXRlcwqLAQoGTEFCRUxTEoABKn4KEAoDYXBwEgkaB3BheW1lbnQKLAofc2VydmljZS5pc3Rpby5pby9jYW5vbmljYWwtbmFtZRIJGgdwYXltZW50CisKI3NlcnZpY2UuaXN0aW8uaW8vY2Fub25pY2FsLXJldmlzaW9uEgQaAnYyCg8KB3ZlcnNpb24SBBoCdjIKHAoETkFNRRIUGhJwYXltZW50LTdkOWYtYWJjZGUKEwoJTkFNRVNQQUNFEgYaBHNob3AKHQoNV09SS0xPQURfTkFNRRIMGgpwYXltZW50LXYy";

    private static readonly PeerMetadata Payment = new("payment-7d9f-abcde", "shop", "payment-v2", "Kubernetes", "payment", "v2", "v2", "payment");

    [Fact]
    public void Encode_WritesTheStructAsIstioDoes()
    {
        Assert.Equal(IstioShaped, Payment.Encode());
    }

    [Fact]
    public void TryDecode_ReadsEveryField()
    {
        Assert.True(PeerMetadataCodec.TryDecode(IstioShaped, out var peer));
        Assert.Equal(("payment-7d9f-abcde", "shop", "payment-v2", "Kubernetes"), (peer.Name, peer.Namespace, peer.Workload, peer.ClusterId));
        Assert.Equal(("payment", "v2", "v2", "payment"), (peer.App, peer.Version, peer.CanonicalRevision, peer.CanonicalService));
    }

    [Theory]
    [InlineData("Cv////8P")]                // 0A FF FF FF FF 0F: a length varint that overflows int
    [InlineData("Cv///////////wE=")]        // a 64-bit length
    [InlineData("CgUKA2Fi")]                // a length past the end
    [InlineData("Cg==")]                    // a tag with no length
    [InlineData("/////////////w==")]        // a varint that never ends
    [InlineData("Dw==")]                    // wire type 7
    [InlineData("not base64 at all!")]
    [InlineData("QUJD")]                    // base64 of "ABC": not a Struct
    public void TryDecode_MalformedValues_AreRefusedWithoutThrowing(string value)
    {
        Assert.False(PeerMetadataCodec.TryDecode(value, out var peer));
        Assert.Same(PeerMetadata.Unknown, peer);
    }

    [Fact]
    public void TryDecode_DeeplyNestedStructs_AreRefusedWithoutThrowing()
    {
        // Value{struct_value: Struct{fields: {"a": Value{...}}}} a thousand deep: past the parser's recursion limit.
        var inner = Array.Empty<byte>();
        for (var i = 0; i < 1000; i++)
        {
            byte[] value = [0x2a, .. Varint(inner.Length), .. inner];                 // Value.struct_value (5)
            byte[] entry = [0x0a, 0x01, (byte)'a', 0x12, .. Varint(value.Length), .. value];
            inner = [0x0a, .. Varint(entry.Length), .. entry];                       // Struct.fields (1)
        }

        Assert.False(PeerMetadataCodec.TryDecode(Convert.ToBase64String(inner), out _));
    }

    [Fact]
    public void TryDecode_RandomBytes_NeverThrow()
    {
        var random = new Random(11);
        var valid = Convert.FromBase64String(IstioShaped);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            var value = Convert.ToBase64String(i % 2 == 0 ? bytes : bytes[..random.Next(bytes.Length)]);
            _ = PeerMetadataCodec.TryDecode(value, out var peer);
            Assert.NotNull(peer);
        }
    }

    [Fact]
    public void Cache_CountsUndecodableValues_AndDoesNotKeepThem()
    {
        var cache = new PeerMetadataCache();
        Assert.Same(PeerMetadata.Unknown, cache.Get("Cv////8P", out var invalid));
        Assert.True(invalid);
        Assert.Equal("payment", cache.Get(IstioShaped, out invalid).App);
        Assert.False(invalid);
    }

    private static byte[] Varint(int value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }
}
