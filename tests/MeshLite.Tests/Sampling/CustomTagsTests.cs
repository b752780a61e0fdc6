using MeshLite.Configuration;
using Microsoft.AspNetCore.Http;

namespace MeshLite.Tracing.Tests;

public class CustomTagsTests
{
    [Fact]
    public void Apply_EvaluatesIstioKinds_AndSkipsEmpty()
    {
        var tags = new CustomTags(new Dictionary<string, CustomTagOptions>
        {
            ["literal"] = new() { Literal = new() { Value = "v1" } },
            ["env"] = new() { Environment = new() { Name = "CLUSTER", DefaultValue = "unused" } },
            ["env-default"] = new() { Environment = new() { Name = "MISSING", DefaultValue = "fallback" } },
            ["env-empty"] = new() { Environment = new() { Name = "MISSING" } },
            ["header"] = new() { Header = new() { Name = "x-team" } },
            ["header-default"] = new() { Header = new() { Name = "x-absent", DefaultValue = "none" } },
            ["header-empty"] = new() { Header = new() { Name = "x-absent" } },
        }, name => name == "CLUSTER" ? "east" : null);

        var headers = new HeaderDictionary { ["x-team"] = new(new[] { "payments", "other" }) };
        var seen = new Dictionary<string, string>();
        tags.Apply(headers, seen, static (s, k, v) => s[k] = v);

        Assert.Equal(new Dictionary<string, string>
        {
            ["env"] = "east",
            ["env-default"] = "fallback",
            ["literal"] = "v1",
            ["header"] = "payments",
            ["header-default"] = "none",
        }, seen);
    }
}
