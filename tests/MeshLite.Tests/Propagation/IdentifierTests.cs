using MeshLite.Hops;
using MeshLite.Tracing.Propagation;

namespace MeshLite.Tracing.Propagation.Tests;

public class IdentifierTests
{
    [Theory]
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7", 0x80f198ee56343ba8UL, 0x64fe8b2a57d3eff7UL)]
    [InlineData("00000000000000010000000000000000", 1UL, 0UL)]
    [InlineData("ffffffffffffffffffffffffffffffff", ulong.MaxValue, ulong.MaxValue)]
    public void TraceId_ReadsAndWritesBothHalves(string hex, ulong high, ulong low)
    {
        Assert.True(TraceIdentifier.TryParse(hex, lowercaseOnly: true, allowShort: false, out var id, out var isShort));
        Assert.Equal(new TraceIdentifier(high, low), id);
        Assert.False(isShort);
        Assert.Equal(hex, id.ToString());
    }

    [Fact]
    public void B3Ids_AcceptUppercase_AndAreWrittenLowercase()
    {
        Assert.True(TraceIdentifier.TryParse("80F198EE56343BA864FE8B2A57D3EFF7", lowercaseOnly: false, allowShort: true, out var traceId, out _));
        Assert.True(SpanIdentifier.TryParse("E457B5A2E4D86BD1", lowercaseOnly: false, out var spanId));
        Assert.Equal("80f198ee56343ba864fe8b2a57d3eff7", traceId.ToString());
        Assert.Equal("e457b5a2e4d86bd1", spanId.ToString());
    }

    [Theory]
    [InlineData("e457b5a2e4d86bdg")]
    [InlineData("e457b5a2e4d86bd")]
    [InlineData("e457b5a2e4d86bd10")]
    [InlineData("0000000000000000")]
    [InlineData(" 457b5a2e4d86bd1")]
    public void SpanId_RefusesAnythingButSixteenHexDigitsNotAllZero(string hex) =>
        Assert.False(SpanIdentifier.TryParse(hex, lowercaseOnly: false, out _));

    [Fact]
    public void RandomIds_RoundTripThroughHex()
    {
        for (var i = 0; i < 1000; i++)
        {
            var traceId = TraceIdentifier.CreateRandom();
            var spanId = SpanIdentifier.CreateRandom();
            Assert.True(TraceIdentifier.TryParse(traceId.ToString(), lowercaseOnly: true, allowShort: false, out var readTrace, out _));
            Assert.True(SpanIdentifier.TryParse(spanId.ToString(), lowercaseOnly: true, out var readSpan));
            Assert.Equal((traceId, spanId), (readTrace, readSpan));
        }
    }
}
