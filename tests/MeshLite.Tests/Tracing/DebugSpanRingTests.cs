using MeshLite.Configuration;
using MeshLite.Tracing;
using MeshLite.Tracing.Export;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeshLite.Tracing.Tests;

public class DebugSpanRingTests
{
    private static int Capacity(params (string Key, string Value)[] extra)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new[] { ("MeshLite:ServiceName", "payment"), ("MeshLite:Inbound:AppPort", "8080") }.Concat(extra)
                .Select(v => new KeyValuePair<string, string?>(v.Item1, v.Item2)))
            .Build();
        var services = new ServiceCollection().AddLogging();
        services.AddMeshLiteTracing(configuration, MeshLiteSettings.Load(configuration));
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<DebugSpanRing>().Capacity;
    }

    [Fact]
    public void Capacity_IsLargeWhenTheRingIsTheOnlySink_AndShortWhenSpansAreExported()
    {
        Assert.Equal(TracingOptions.DebugSpanCapacityWithoutExport, Capacity());
        Assert.Equal(TracingOptions.DebugSpanCapacityWhenExporting, Capacity(("MeshLite:Tracing:Otlp:Endpoint", "http://127.0.0.1:4317")));
        Assert.Equal(5000, Capacity(("MeshLite:Tracing:Otlp:Endpoint", "http://127.0.0.1:4317"), ("MeshLite:Tracing:DebugSpanCapacity", "5000")));
    }
}
