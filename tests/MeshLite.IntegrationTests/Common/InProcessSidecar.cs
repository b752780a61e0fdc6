using MeshLite.Hops;
using MeshLite.Hosting;
using MeshLite.Listeners;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeshLite.IntegrationTests.Common;

/// <summary>A MeshLite sidecar in the test process, on real loopback sockets with ports picked by the OS.</summary>
public sealed class InProcessSidecar : IAsyncDisposable
{
    private InProcessSidecar(WebApplication app)
    {
        App = app;
        var bindings = app.Services.GetRequiredService<ListenerBindings>();
        InboundPort = bindings.Port(ListenerKind.Inbound);
        OutboundPort = bindings.Port(ListenerKind.Outbound);
        AdminPort = bindings.Port(ListenerKind.Admin);
    }

    public WebApplication App { get; }
    public int InboundPort { get; }
    public int OutboundPort { get; }
    public int AdminPort { get; }
    public string InboundAddress => $"http://127.0.0.1:{InboundPort}";
    public string OutboundAddress => $"http://127.0.0.1:{OutboundPort}";
    public string AdminAddress => $"http://127.0.0.1:{AdminPort}";

    public static Dictionary<string, string?> Defaults(string service, int appPort) => new()
    {
        ["MeshLite:ServiceName"] = service,
        ["MeshLite:Inbound:AppPort"] = appPort.ToString(),
        ["MeshLite:Inbound:Port"] = "0",
        ["MeshLite:Inbound:BindAddress"] = "127.0.0.1",
        ["MeshLite:Outbound:Port"] = "0",
        ["MeshLite:Admin:Port"] = "0",
        ["MeshLite:Metrics:Port"] = "0",
        ["MeshLite:AccessLog:Enabled"] = "false",
        ["MeshLite:PodName"] = service + "-pod",
        ["MeshLite:PodIp"] = "127.0.0.1",
        ["MeshLite:TerminationDrainDuration"] = "00:00:00",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    public static async Task<InProcessSidecar> StartAsync(string service, int appPort, IDictionary<string, string?>? config = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var values = Defaults(service, appPort);
        foreach (var (key, value) in config ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var app = MeshLiteApplication.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(values);
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        return new InProcessSidecar(app);
    }

    /// <summary>A sidecar configured by a <c>--config</c> file alone, as in production; edits of the file reload live.</summary>
    public static async Task<InProcessSidecar> StartFromFileAsync(string configFile, Action<WebApplicationBuilder>? configure = null)
    {
        var app = MeshLiteApplication.Build(["--config", configFile], configure);
        await app.StartAsync();
        return new InProcessSidecar(app);
    }

    /// <summary>A temporary file for <c>MeshLite:AccessLog:Path</c>, and a way to wait for its lines.</summary>
    public static string NewAccessLogPath() => Path.Combine(Path.GetTempPath(), $"meshlite-access-{Guid.NewGuid():N}.log");

    public static async Task<string[]> WaitForAccessLinesAsync(string path, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var lines = File.Exists(path)
                ? (await ReadSharedAsync(path)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                : [];
            if (lines.Length >= count || DateTime.UtcNow > deadline)
            {
                return lines;
            }

            await Task.Delay(20);
        }
    }

    private static async Task<string> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
