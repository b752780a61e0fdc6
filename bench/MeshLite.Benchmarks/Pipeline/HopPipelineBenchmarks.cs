using System.Net;
using BenchmarkDotNet.Attributes;
using MeshLite.Hops;
using MeshLite.Hosting;
using MeshLite.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Benchmarks.Pipeline;

/// <summary>
/// One request through MeshLite's whole hop pipeline in process, without sockets: route lookup, hop record, peer
/// metadata, x-request-id, sampling, header writes, the forwarder with MeshLite's transformer, and the observers (span,
/// Istio metrics, access line) — against an upstream handler that answers from memory. The baseline is YARP's
/// <see cref="IHttpForwarder"/> with <see cref="HttpTransformer.Empty"/> over the same handler, so the difference in
/// the Allocated column is what a hop costs beyond forwarding.
/// </summary>
[MemoryDiagnoser]
public class HopPipelineBenchmarks
{
    private WebApplication _sidecar = null!;
    private HopPipeline _pipeline = null!;
    private IHttpForwarder _forwarder = null!;
    private HttpMessageInvoker _bareClient = null!;

    [Params("0", "1", "100")]
    public string Sampling { get; set; } = "1";

    [Params(false, true)]
    public bool AccessLog { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _sidecar = MeshLiteApplication.Build([], b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["MeshLite:ServiceName"] = "svc",
                ["MeshLite:Inbound:AppPort"] = "8080",
                ["MeshLite:PodName"] = "svc-1",
                ["MeshLite:PodIp"] = "10.0.0.1",
                ["MeshLite:AccessLog:Enabled"] = AccessLog ? "true" : "false",
                ["MeshLite:AccessLog:Path"] = "/dev/null",
                ["MeshLite:Tracing:Sampling"] = Sampling,
                ["MeshLite:Tracing:DebugSpanCapacity"] = "256",
                ["Logging:LogLevel:Default"] = "Warning",
            });
            b.Services.AddSingleton(new UpstreamHandlerOverride(() => new InMemoryUpstream()));
        });

        // The host is not started (no listeners): the tracer provider is built here so spans are recorded.
        _sidecar.Services.GetRequiredService<TracerProvider>();
        _pipeline = _sidecar.Services.GetRequiredService<HopPipeline>();
        _forwarder = _sidecar.Services.GetRequiredService<IHttpForwarder>();
        _bareClient = new HttpMessageInvoker(new InMemoryUpstream());
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _sidecar.DisposeAsync();

    [Benchmark(Baseline = true)]
    public async Task<int> BareForwarder()
    {
        var context = NewRequest();
        await _forwarder.SendAsync(context, "http://127.0.0.1:8080", _bareClient, ForwarderRequestConfig.Empty, HttpTransformer.Empty);
        return context.Response.StatusCode;
    }

    [Benchmark]
    public async Task<int> MeshLiteInbound()
    {
        var context = NewRequest();
        await _pipeline.Invoke(context, ListenerKind.Inbound);
        return context.Response.StatusCode;
    }

    private static DefaultHttpContext NewRequest()
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = "GET";
        request.Scheme = "http";
        request.Protocol = "HTTP/1.1";
        request.Host = new HostString("svc:80");
        request.Path = "/orders/42";
        request.Headers.UserAgent = "bench/1.0";
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Connection.LocalIpAddress = IPAddress.Loopback;
        context.Features.Set<IHttpRequestBodyDetectionFeature>(NoBody.Instance);
        return context;
    }

    private sealed class NoBody : IHttpRequestBodyDetectionFeature
    {
        public static readonly NoBody Instance = new();

        public bool CanHaveBody => false;
    }

    /// <summary>An upstream that answers 200 with a two-byte body from memory.</summary>
    private sealed class InMemoryUpstream : HttpMessageHandler
    {
        private static readonly byte[] _body = "ok"u8.ToArray();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(_body), RequestMessage = request });
    }
}
