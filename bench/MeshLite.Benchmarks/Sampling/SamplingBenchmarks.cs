using BenchmarkDotNet.Attributes;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;
using MeshLite.Tracing.Sampling;

namespace MeshLite.Benchmarks.Sampling;

/// <summary>The x-request-id decision: read the packed reason, draw from the first 8 hex characters, decide. No allocation.</summary>
[MemoryDiagnoser]
public class SamplingBenchmarks
{
    private const string RequestIdValue = "84961386-6d84-429d-98bd-c5aee93b5c88";

    [Benchmark(Baseline = true)]
    public SamplingDecision DecideFromRequestId()
    {
        RequestId.TryGetSamplingValue(RequestIdValue, out var draw);
        return TraceSampler.Decide(SamplingState.Unspecified, RequestId.ReadReason(RequestIdValue), draw, false, false, 100, false);
    }

    [Benchmark]
    public SamplingDecision DecideWithParent() => TraceSampler.Decide(SamplingState.Sampled, '4', 5000, false, false, 100, false);

    [Benchmark]
    public string RewriteReason_Unchanged() => RequestId.WithReason(RequestIdValue, '4');
}
