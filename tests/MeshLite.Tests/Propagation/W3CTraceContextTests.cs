using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;

namespace MeshLite.Tracing.Propagation.Tests;

public class W3CTraceContextTests
{
    private const string SpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    [Fact]
    public void TryParse_SpecExample_ReadsIdsAndSampledFlag()
    {
        Assert.True(W3CTraceContext.TryParse(SpecExample, out var context));
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", context.TraceId.ToString());
        Assert.Equal("00f067aa0ba902b7", context.SpanId.ToString());
        Assert.Equal(SamplingState.Sampled, context.Sampled);
        Assert.Equal(TraceFormat.W3C, context.Format);
    }

    [Fact]
    public void TryParse_FlagsWithoutSampledBit_IsNotSampled()
    {
        Assert.True(W3CTraceContext.TryParse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", out var context));
        Assert.Equal(SamplingState.NotSampled, context.Sampled);
    }

    [Theory]
    [InlineData("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")] // version ff
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")] // all-zero trace id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")] // all-zero span id
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")] // uppercase
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01")] // short trace id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")] // version 00 with extra fields
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g")] // bad flags
    [InlineData("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01")] // bad separators
    [InlineData("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")] // bad version
    [InlineData("")]
    public void TryParse_Invalid_ReturnsFalse(string value) => Assert.False(W3CTraceContext.TryParse(value, out _));

    [Fact]
    public void TryParse_FutureVersion_ReadsFirstFourFields()
    {
        Assert.True(W3CTraceContext.TryParse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", out var context));
        Assert.Equal("00f067aa0ba902b7", context.SpanId.ToString());
    }

    [Fact]
    public void TryParse_Oversized_ReturnsFalse() =>
        Assert.False(W3CTraceContext.TryParse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + new string('a', 300), out _));

    [Fact]
    public void Format_RoundTrips()
    {
        Assert.True(TraceIdentifier.TryParse("4bf92f3577b34da6a3ce929d0e0e4736", true, false, out var traceId, out _));
        Assert.True(SpanIdentifier.TryParse("00f067aa0ba902b7", true, out var spanId));
        Assert.Equal(SpecExample, W3CTraceContext.Format(traceId, spanId, sampled: true));
        Assert.EndsWith("-00", W3CTraceContext.Format(traceId, spanId, sampled: false));
    }
}
