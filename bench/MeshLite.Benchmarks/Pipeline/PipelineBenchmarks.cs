using System.Net;
using BenchmarkDotNet.Attributes;
using MeshLite.Hops;
using MeshLite.Hosting;
using MeshLite.Listeners;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeshLite.Benchmarks.Pipeline;

/// <summary>
/// One whole request through MeshLite's inbound listener (Kestrel, routing, the hop, YARP, the upstream call) against
/// a no-op upstream, on loopback — against the same request sent straight to the upstream.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private WebApplication _upstream = null!;
    private WebApplication _sidecar = null!;
    private HttpMessageInvoker _client = null!;
    private Uri _direct = null!;
    private Uri _viaMeshLite = null!;

    [Params("0", "1", "100")]
    public string Sampling { get; set; } = "1";

    [GlobalSetup]
    public async Task Setup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        ListenOptions? listen = null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => listen = o));
        _upstream = builder.Build();
        _upstream.Run(static context => context.Response.WriteAsync("ok"));
        await _upstream.StartAsync();
        var upstreamPort = ((IPEndPoint)listen!.EndPoint).Port;

        _sidecar = MeshLiteApplication.Build([], b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["MeshLite:ServiceName"] = "svc",
                ["MeshLite:Inbound:AppPort"] = upstreamPort.ToString(),
                ["MeshLite:Inbound:Port"] = "0",
                ["MeshLite:Outbound:Port"] = "0",
                ["MeshLite:Admin:Port"] = "0",
                ["MeshLite:Metrics:Port"] = "0",
                ["MeshLite:AccessLog:Enabled"] = "false",
                ["MeshLite:Tracing:Sampling"] = Sampling,
                ["MeshLite:Tracing:DebugSpanCapacity"] = "256",
                ["Logging:LogLevel:Default"] = "Warning",
            });
        });
        await _sidecar.StartAsync();
        var inbound = _sidecar.Services.GetRequiredService<ListenerBindings>().Port(ListenerKind.Inbound);
        _client = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });
        _direct = new Uri($"http://127.0.0.1:{upstreamPort}/");
        _viaMeshLite = new Uri($"http://127.0.0.1:{inbound}/");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _client.Dispose();
        await _sidecar.StopAsync();
        await _upstream.StopAsync();
    }

    [Benchmark(Baseline = true)]
    public async Task<HttpStatusCode> Direct()
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Get, _direct), CancellationToken.None);
        return response.StatusCode;
    }

    [Benchmark]
    public async Task<HttpStatusCode> ThroughMeshLite()
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Get, _viaMeshLite), CancellationToken.None);
        return response.StatusCode;
    }
}
