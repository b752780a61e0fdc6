using BenchmarkDotNet.Attributes;
using MeshLite.Configuration;
using MeshLite.Tracing;
using Microsoft.AspNetCore.Http;

namespace MeshLite.Benchmarks.Tracing;

/// <summary>Istio's three custom-tag kinds evaluated for one request.</summary>
[MemoryDiagnoser]
public class CustomTagsBenchmarks
{
    private readonly CustomTags _tags = new(new Dictionary<string, CustomTagOptions>
    {
        ["team"] = new() { Literal = new() { Value = "checkout" } },
        ["region"] = new() { Environment = new() { Name = "REGION", DefaultValue = "local" } },
        ["tenant"] = new() { Header = new() { Name = "x-tenant", DefaultValue = "none" } },
    }, _ => null);

    private readonly HeaderDictionary _headers = new() { ["x-tenant"] = "acme" };

    [Benchmark]
    public int EvaluateThreeTags()
    {
        var count = 0;
        _tags.Apply(_headers, this, static (_, _, value) => _ = value.Length);
        count += _tags.Count;
        return count;
    }
}
