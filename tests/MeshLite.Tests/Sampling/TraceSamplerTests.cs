using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;
using MeshLite.Tracing.Sampling;

namespace MeshLite.Tracing.Sampling.Tests;

public class TraceSamplerTests
{
    [Theory]
    [InlineData(1.0, 100)]
    [InlineData(0.01, 1)]
    [InlineData(100, 10000)]
    [InlineData(0, 0)]
    [InlineData(12.345, 1235)]
    public void ToNumerator_UsesEnvoyGrid(double percent, int expected) => Assert.Equal(expected, TraceSampler.ToNumerator(percent));

    [Fact]
    public void Decide_OnePercent_Over20000RequestIds_SamplesAboutOnePercent_AndAgreesAcrossHops()
    {
        var numerator = TraceSampler.ToNumerator(1.0);
        var sampled = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var id = RequestId.Generate();
            Assert.True(RequestId.TryGetSamplingValue(id, out var draw));
            var first = TraceSampler.Decide(SamplingState.Unspecified, RequestId.ReadReason(id), draw, false, false, numerator, false);

            // The next hop sees the same id (with the reason written back) and must agree.
            var forwarded = RequestId.WithReason(id, first.Sampled ? RequestId.Sampled : RequestId.NotTraceable);
            RequestId.TryGetSamplingValue(forwarded, out var draw2);
            var second = TraceSampler.Decide(SamplingState.Unspecified, RequestId.ReadReason(forwarded), draw2, false, false, numerator, false);
            Assert.Equal(first.Sampled, second.Sampled);
            sampled += first.Sampled ? 1 : 0;
        }

        // Binomial(20000, 0.01): mean 200, sd ~14; 120..280 is over 5 sd either way.
        Assert.InRange(sampled, 120, 280);
    }

    [Fact]
    public void Decide_ZeroPercent_NeverSamplesByChance()
    {
        for (var draw = 0; draw < 10000; draw += 7)
        {
            Assert.False(TraceSampler.Decide(SamplingState.Unspecified, '4', draw, false, false, 0, false).Sampled);
        }
    }

    [Fact]
    public void Decide_HundredPercent_AlwaysSamples() =>
        Assert.True(TraceSampler.Decide(SamplingState.Unspecified, '4', 9999, false, false, 10000, false).Sampled);

    [Theory]
    [InlineData(SamplingState.Sampled, true)]
    [InlineData(SamplingState.Debug, true)]
    [InlineData(SamplingState.NotSampled, false)]
    public void Decide_ParentDecision_IsHonouredOverTheDraw(SamplingState parent, bool expected)
    {
        var decision = TraceSampler.Decide(parent, '9', 0, false, false, expected ? 0 : 10000, false);
        Assert.Equal(expected, decision.Sampled);
        Assert.Equal(SamplingReason.Parent, decision.Reason);
    }

    [Fact]
    public void Decide_RequestIdReason_IsHonouredWithoutTraceContext() =>
        Assert.Equal(new SamplingDecision(true, SamplingReason.Parent), TraceSampler.Decide(SamplingState.Unspecified, '9', 9999, false, false, 0, false));

    [Fact]
    public void Decide_Forcing_BeatsEverything()
    {
        Assert.Equal(SamplingReason.ClientForced, TraceSampler.Decide(SamplingState.NotSampled, '4', 9999, true, false, 0, false).Reason);
        Assert.Equal(SamplingReason.ServiceForced, TraceSampler.Decide(SamplingState.NotSampled, '4', 9999, false, true, 0, false).Reason);
    }

    [Fact]
    public void Overrides_PickTheFirstMatchingRouteAndTheService()
    {
        var sampler = new TraceSampler(new TracingOptions
        {
            Sampling = 1,
            Overrides =
            [
                new() { Path = "/checkout", Method = "POST", Percentage = 100 },
                new() { PathPrefix = "/api/", Percentage = 50 },
                new() { Service = "payment", Percentage = 25 },
            ],
        });
        Assert.Equal(10000, sampler.InboundNumerator("/checkout", "POST", out var o1));
        Assert.True(o1);
        Assert.Equal(100, sampler.InboundNumerator("/checkout", "GET", out var o2));
        Assert.False(o2);
        Assert.Equal(5000, sampler.InboundNumerator("/api/items", "GET", out _));
        Assert.Equal(2500, sampler.OutboundNumerator("PAYMENT", out var o3));
        Assert.True(o3);
        Assert.Equal(100, sampler.OutboundNumerator("bank", out _));
    }

    [Fact]
    public void OutboundSampling_IsTheOutboundListenersDefault_ServiceOverridesStillWin_InboundIsUntouched()
    {
        var sampler = new TraceSampler(new TracingOptions
        {
            Sampling = 5,
            OutboundSampling = 100,
            Overrides = [new() { Service = "payment", Percentage = 25 }],
        });

        Assert.Equal(10000, sampler.OutboundNumerator("bank", out var overridden));
        Assert.False(overridden);
        Assert.Equal(10000, sampler.OutboundNumerator(null, out _));
        Assert.Equal(2500, sampler.OutboundNumerator("payment", out _));
        Assert.Equal(500, sampler.InboundNumerator("/", "GET", out _));
    }
}
