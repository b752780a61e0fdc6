using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Keep;
using MeshLite.Tracing.Sampling;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Tracing.Tests;

public class KeepTests
{
    [Fact]
    public void RateLimiter_LetsOneSecondsWorthThrough_ThenOnePerInterval()
    {
        var limiter = new TraceRateLimiter(5);
        var now = Stopwatch.GetTimestamp();

        Assert.Equal(5, Enumerable.Range(0, 50).Count(_ => limiter.TryAcquire(now)));
        Assert.False(limiter.TryAcquire(now + Stopwatch.Frequency / 10));
        Assert.True(limiter.TryAcquire(now + Stopwatch.Frequency / 5));
        Assert.False(limiter.TryAcquire(now + Stopwatch.Frequency / 5));

        // After a quiet period the bucket is full again, never fuller.
        var later = now + 10 * Stopwatch.Frequency;
        Assert.Equal(5, Enumerable.Range(0, 50).Count(_ => limiter.TryAcquire(later)));
    }

    [Fact]
    public void KeepBudget_UnderItsRate_KeepsEverything()
    {
        var budget = new KeepBudget(100);
        var now = Stopwatch.GetTimestamp();

        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(budget.Admit(TraceIdentifier.CreateRandom(), now)));
        Assert.Equal(10000, budget.Threshold);
    }

    [Fact]
    public void KeepBudget_InAStorm_KeepsAboutItsRate_AndTwoSidecarsKeepTheSameTraces()
    {
        var a = new KeepBudget(50);
        var b = new KeepBudget(50);
        var now = Stopwatch.GetTimestamp();
        var traces = Enumerable.Range(0, 5000).Select(_ => TraceIdentifier.CreateRandom()).ToArray();

        // The first second of the storm lowers the threshold as it goes; the next second uses what fitted the first.
        foreach (var trace in traces)
        {
            a.Admit(trace, now);
            b.Admit(trace, now);
        }

        var second = now + Stopwatch.Frequency;
        var keptByA = traces.Where(t => a.Admit(t, second)).ToHashSet();
        var keptByB = traces.Where(t => b.Admit(t, second)).ToHashSet();

        Assert.InRange(keptByA.Count, 1, 150);
        Assert.Equal(keptByA, keptByB);
    }

    [Theory]
    [InlineData(200, ResponseFlags.None, null, false)]
    [InlineData(404, ResponseFlags.None, null, false)]
    [InlineData(503, ResponseFlags.None, null, true)]
    [InlineData(0, ResponseFlags.DownstreamConnectionTermination, null, true)]
    [InlineData(200, ResponseFlags.UpstreamRetryLimitExceeded, null, true)]
    [InlineData(200, ResponseFlags.None, "0", false)]
    [InlineData(200, ResponseFlags.None, "5", false)]
    [InlineData(200, ResponseFlags.None, "14", true)]
    [InlineData(200, ResponseFlags.None, "13", true)]
    public void IsError_IsEnvoysFailedRequest(int status, ResponseFlags flags, string? grpcStatus, bool expected) =>
        Assert.Equal(expected, TraceKeeper.IsError(status, flags, grpcStatus));

    [Fact]
    public void KeptSpan_CanGiveASpanTheIdItPropagated_OnThisRuntime() => Assert.True(KeptSpan.IsSupported);

    [Fact]
    public void Validation_NamesTheKeepKeys()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "svc",
            ["MeshLite:Inbound:AppPort"] = "8080",
            ["MeshLite:Tracing:Keep:SlowerThanMs"] = "0",
            ["MeshLite:Tracing:Keep:MaxTracesPerSecond"] = "-1",
            ["MeshLite:Tracing:MaxTracesPerSecond"] = "0",
            ["MeshLite:Tracing:Overrides:0:PathPrefix"] = "/slow",
        }).Build();

        var errors = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteSettings.Load(configuration)).Errors;

        Assert.Contains(errors, e => e.StartsWith("MeshLite:Tracing:Keep:SlowerThanMs '0'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MeshLite:Tracing:Keep:MaxTracesPerSecond '-1'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MeshLite:Tracing:MaxTracesPerSecond '0'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MeshLite:Tracing:Overrides:0 sets neither Percentage nor SlowerThanMs", StringComparison.Ordinal));
    }

    [Fact]
    public void SlowThreshold_RouteOverride_ThenServiceOverride_ThenDefault()
    {
        var tracing = new TracingOptions
        {
            Keep = new KeepOptions { SlowerThanMs = 1000 },
            Overrides =
            [
                new SamplingOverrideOptions { PathPrefix = "/reports", SlowerThanMs = 5000 },
                new SamplingOverrideOptions { Service = "ledger", SlowerThanMs = 50 },
                new SamplingOverrideOptions { PathPrefix = "/other", Percentage = 10 },
            ],
        };
        var policy = new KeepPolicy(tracing);
        var inbound = new HopFeature(ListenerKind.Inbound, new MeshRoute(MeshRouteKind.Inbound, ListenerKind.Inbound, "inbound|8080||", "svc", "op", "auto"), 0);
        var ledger = new HopFeature(ListenerKind.Outbound, new MeshRoute(MeshRouteKind.Registry, ListenerKind.Outbound, "outbound|80||ledger", "ledger", "op", "auto"), 0);

        Assert.Equal(5000, policy.SlowerThanMs(inbound, "/reports/monthly", "GET"));
        Assert.Equal(1000, policy.SlowerThanMs(inbound, "/other", "GET"));
        Assert.Equal(50, policy.SlowerThanMs(ledger, "/x", "GET"));

        // An override that sets only a threshold does not change the sampling percentage.
        Assert.Equal(100, new TraceSampler(tracing).InboundNumerator("/reports/x", "GET", out var overridden));
        Assert.False(overridden);
    }
}
