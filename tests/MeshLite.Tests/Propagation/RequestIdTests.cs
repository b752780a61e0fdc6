using MeshLite.Tracing.Propagation;

namespace MeshLite.Tracing.Propagation.Tests;

public class RequestIdTests
{
    [Fact]
    public void Generate_IsLowercaseUuidV4()
    {
        var id = RequestId.Generate();
        Assert.Equal(36, id.Length);
        Assert.Equal('4', id[14]);
        Assert.Contains(id[19], "89ab");
        Assert.Equal(id.ToLowerInvariant(), id);
    }

    [Fact]
    public void Generate_IsUnique_AndSpreadsTheSamplingDrawEvenly()
    {
        var ids = Enumerable.Range(0, 20_000).Select(_ => RequestId.Generate()).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id => Assert.Equal('4', id[RequestId.ReasonIndex]));

        // The draw decides 1 % sampling: about 200 of 20,000 must fall below 100 (±5 sigma).
        var below = ids.Count(id => RequestId.TryGetSamplingValue(id, out var draw) && draw < 100);
        Assert.InRange(below, 130, 270);
    }

    [Fact]
    public void TryGetSamplingValue_IstioDocsExample()
    {
        // 0x84961386 = 2224427910; % 10000 = 7910 (envoy-istio-facts.md 1.3).
        Assert.True(RequestId.TryGetSamplingValue("84961386-6d84-929d-98bd-c5aee93b5c88", out var value));
        Assert.Equal(7910, value);
        Assert.Equal('9', RequestId.ReadReason("84961386-6d84-929d-98bd-c5aee93b5c88"));
    }

    [Theory]
    [InlineData("not-hex-id")]
    [InlineData("abc")]
    public void TryGetSamplingValue_NonHex_ReturnsFalse(string id) => Assert.False(RequestId.TryGetSamplingValue(id, out _));

    [Fact]
    public void ReadReason_ForeignFormat_IsNotTraceable()
    {
        Assert.Equal('4', RequestId.ReadReason("req-123"));
        Assert.Equal('4', RequestId.ReadReason("84961386-6d84-x29d-98bd-c5aee93b5c88"));
    }

    [Fact]
    public void WithReason_RewritesIndex14Only()
    {
        const string id = "84961386-6d84-429d-98bd-c5aee93b5c88";
        Assert.Equal("84961386-6d84-b29d-98bd-c5aee93b5c88", RequestId.WithReason(id, 'b'));
        Assert.Same(id, RequestId.WithReason(id, '4'));
        Assert.Same("short", RequestId.WithReason("short", '9'));
    }
}
