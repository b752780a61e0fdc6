using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;
using Microsoft.AspNetCore.Http;

namespace MeshLite.Tracing.Propagation.Tests;

public class B3PropagationTests
{
    [Fact]
    public void TryParseSingle_SpecExample_ReadsAllFields()
    {
        Assert.True(B3Propagation.TryParseSingle("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", out var context));
        Assert.Equal("80f198ee56343ba864fe8b2a57d3eff7", context.TraceId.ToString());
        Assert.Equal("e457b5a2e4d86bd1", context.SpanId.ToString());
        Assert.Equal(SamplingState.Sampled, context.Sampled);
        Assert.False(context.ShortTraceId);
    }

    [Fact]
    public void TryParseSingle_64BitTraceId_IsKeptShort()
    {
        Assert.True(B3Propagation.TryParseSingle("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d", out var context));
        Assert.True(context.ShortTraceId);
        Assert.Equal("000000000000000064fe8b2a57d3eff7", context.TraceId.ToString());
        Assert.Equal(SamplingState.Debug, context.Sampled);
        Assert.Equal("64fe8b2a57d3eff7", B3Propagation.FormatTraceId(context.TraceId, context.ShortTraceId));
    }

    [Theory]
    [InlineData("0", SamplingState.NotSampled)]
    [InlineData("1", SamplingState.Sampled)]
    [InlineData("d", SamplingState.Debug)]
    public void TryParseSingle_DecisionOnly_HasNoIds(string value, SamplingState expected)
    {
        Assert.True(B3Propagation.TryParseSingle(value, out var context));
        Assert.False(context.HasIds);
        Assert.Equal(expected, context.Sampled);
    }

    [Theory]
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x")] // bad sampling field
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9")] // short parent
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7")] // no span id
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bdz-1")] // bad hex
    [InlineData("00000000000000000000000000000000-e457b5a2e4d86bd1-1")] // zero trace id
    [InlineData("x")]
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-extra")]
    public void TryParseSingle_Invalid_ReturnsFalse(string value) => Assert.False(B3Propagation.TryParseSingle(value, out _));

    [Theory]
    [InlineData("1", "", SamplingState.Sampled)]
    [InlineData("true", "", SamplingState.Sampled)]
    [InlineData("0", "", SamplingState.NotSampled)]
    [InlineData("false", "", SamplingState.NotSampled)]
    [InlineData("", "1", SamplingState.Debug)]
    [InlineData("", "", SamplingState.Unspecified)]
    public void TryParseMulti_SamplingValues(string sampled, string flags, SamplingState expected)
    {
        Assert.True(B3Propagation.TryParseMulti("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", sampled, flags, out var context));
        Assert.Equal(expected, context.Sampled);
        Assert.Equal("a2fb4a1d1a96d312", context.SpanId.ToString());
    }

    [Theory]
    [InlineData("463ac35c9f6413ad48485a3953bb6124", "", "1")] // trace id without span id
    [InlineData("463ac35c9f6413ad48485a3953bb612", "a2fb4a1d1a96d312", "1")] // 31 chars
    [InlineData("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", "yes")] // bad sampled
    [InlineData("", "", "")]
    public void TryParseMulti_Invalid_ReturnsFalse(string traceId, string spanId, string sampled) =>
        Assert.False(B3Propagation.TryParseMulti(traceId, spanId, sampled, "", out _));

    [Fact]
    public void FormatSingle_WritesParentAndState()
    {
        TraceIdentifier.TryParse("80f198ee56343ba864fe8b2a57d3eff7", true, false, out var traceId, out _);
        SpanIdentifier.TryParse("e457b5a2e4d86bd1", true, out var spanId);
        SpanIdentifier.TryParse("05e3ac9a4f6e3b90", true, out var parent);
        Assert.Equal("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            B3Propagation.FormatSingle(traceId, false, spanId, SamplingState.Sampled, parent));
        Assert.Equal("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0", B3Propagation.FormatSingle(traceId, false, spanId, SamplingState.NotSampled, default));
    }
}

public class TraceContextExtractorTests
{
    private const string W3C = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    [Fact]
    public void Extract_W3CWinsOverB3()
    {
        var headers = new HeaderDictionary
        {
            ["traceparent"] = W3C,
            ["b3"] = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0",
            ["x-b3-traceid"] = "463ac35c9f6413ad48485a3953bb6124",
            ["x-b3-spanid"] = "a2fb4a1d1a96d312",
        };
        var context = TraceContextExtractor.Extract(headers, out var invalid);
        Assert.Equal(TraceFormat.W3C, context.Format);
        Assert.Equal(TraceFormat.None, invalid);
    }

    [Fact]
    public void Extract_B3SingleWinsOverMulti()
    {
        var headers = new HeaderDictionary
        {
            ["b3"] = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0",
            ["x-b3-traceid"] = "463ac35c9f6413ad48485a3953bb6124",
            ["x-b3-spanid"] = "a2fb4a1d1a96d312",
        };
        Assert.Equal(TraceFormat.B3Single, TraceContextExtractor.Extract(headers, out _).Format);
    }

    [Fact]
    public void Extract_InvalidW3C_FallsBackToB3AndReportsW3C()
    {
        var headers = new HeaderDictionary
        {
            ["traceparent"] = "00-zz-00f067aa0ba902b7-01",
            ["x-b3-traceid"] = "463ac35c9f6413ad48485a3953bb6124",
            ["x-b3-spanid"] = "a2fb4a1d1a96d312",
            ["x-b3-sampled"] = "1",
        };
        var context = TraceContextExtractor.Extract(headers, out var invalid);
        Assert.Equal(TraceFormat.B3Multi, context.Format);
        Assert.Equal(TraceFormat.W3C, invalid);
        Assert.Equal("463ac35c9f6413ad48485a3953bb6124", context.TraceId.ToString());
    }

    [Fact]
    public void Extract_DuplicatedTraceParent_IsInvalid()
    {
        var headers = new HeaderDictionary { ["traceparent"] = new(new[] { W3C, W3C }) };
        var context = TraceContextExtractor.Extract(headers, out var invalid);
        Assert.Equal(TraceFormat.None, context.Format);
        Assert.Equal(TraceFormat.W3C, invalid);
    }

    [Fact]
    public void Extract_DecisionOnlyB3_TakesIdsFromMulti()
    {
        var headers = new HeaderDictionary
        {
            ["b3"] = "0",
            ["x-b3-traceid"] = "463ac35c9f6413ad48485a3953bb6124",
            ["x-b3-spanid"] = "a2fb4a1d1a96d312",
            ["x-b3-sampled"] = "1",
        };
        var context = TraceContextExtractor.Extract(headers, out _);
        Assert.True(context.HasIds);
        Assert.Equal(SamplingState.NotSampled, context.Sampled);
    }
}
