using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MeshLite.IntegrationTests.Common;
using MeshLite.Peers;
using MeshLite.Proxy;
using MeshLite.Tracing.Keep;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.IntegrationTests;

/// <summary>
/// Every hop completes exactly once — span, metric, access line, break-detector slot — whatever the caller sent and
/// wherever the request failed; and nothing a caller sends in a mesh header can fail the request.
/// </summary>
public class HopCompletionTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private static Dictionary<string, string?> Traced(OtlpReceiver receiver, string accessLog, params (string Key, string Value)[] extra)
    {
        var config = new Dictionary<string, string?>
        {
            ["MeshLite:Tracing:Sampling"] = "100",
            ["MeshLite:Tracing:Otlp:Endpoint"] = receiver.GrpcEndpoint,
            ["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "50",
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = accessLog,
        };
        foreach (var (k, v) in extra)
        {
            config[k] = v;
        }

        return config;
    }

    [Fact]
    public async Task Inbound_PeerMetadataWhoseLengthOverflows_IsIgnoredAndCounted_AndTheRequestSucceedsWithAllItsTelemetry()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var accessLog = InProcessSidecar.NewAccessLogPath();
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, Traced(receiver, accessLog));

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{sidecar.InboundAddress}/peer");
        request.Headers.TryAddWithoutValidation("x-envoy-peer-metadata", Convert.ToBase64String([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]));
        request.Headers.TryAddWithoutValidation("x-envoy-peer-metadata-id", "sidecar~1.2.3.4~evil~ns");
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(app.Received);
        Assert.False(seen.ContainsKey("x-envoy-peer-metadata"), "the app must not see mesh metadata");

        var span = Assert.Single(await receiver.WaitForAsync(s => s.Count >= 1));
        Assert.Equal("200", span.Tag("http.status_code"));
        var line = Assert.Single(await InProcessSidecar.WaitForAccessLinesAsync(accessLog, 1));
        Assert.Contains("\"GET /peer HTTP/1.1\" 200 - via_upstream", line);

        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        var sample = Assert.Single(metrics, m => m.Name == "istio_requests_total");
        Assert.Equal("unknown", sample["source_workload"]);
        Assert.Equal(1, metrics.Single(m => m.Name == "meshlite_peer_metadata_invalid_total" && m["direction"] == "request").Value);
    }

    [Fact]
    public async Task ExceptionAfterTheResponseStarted_CompletesTheHopOnce_AndNoLaterCallIsBlamedOnIt()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var accessLog = InProcessSidecar.NewAccessLogPath();
        await using var app = await TestApp.StartEchoAsync("body");

        // A response-trailers step runs after the body went out: the only way left to fail is to reset the stream.
        // (Trailers exist on HTTP/2 responses: the caller speaks HTTP/2, the app HTTP/1.1.)
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, Traced(receiver, accessLog, ("MeshLite:Inbound:AppProtocol", "http")),
            builder => builder.Services.AddSingleton<HttpTransformer, ThrowingTrailersTransformer>());

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{sidecar.InboundAddress}/late-failure")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        try
        {
            await response.Content.ReadAsStringAsync();
        }
        catch (HttpRequestException)
        {
            // The reset may or may not reach the client before the body did: the hop's record is what is under test.
        }

        var span = Assert.Single(await receiver.WaitForAsync(s => s.Count >= 1));
        Assert.Equal("LR", span.Tag("response_flags"));
        var line = Assert.Single(await InProcessSidecar.WaitForAccessLinesAsync(accessLog, 1));
        Assert.Contains("\"GET /late-failure HTTP/2\" 200 LR internal_error ", line);
        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        var sample = Assert.Single(metrics, m => m.Name == "istio_requests_total");
        Assert.Equal(("200", "LR"), (sample["response_code"], sample["response_flags"]));
        Assert.Equal(1, metrics.Single(m => m.Name == "meshlite_internal_errors_total" && m["stage"] == "proxy").Value);

        // Had the hop kept its in-flight slot, this context-less outbound call would be a break "caused" by it.
        using var outbound = new HttpRequestMessage(HttpMethod.Get, $"{sidecar.OutboundAddress}/later");
        outbound.Headers.Host = $"127.0.0.1:{app.Port}";
        using (await _client.SendAsync(outbound))
        {
        }

        using var propagation = JsonDocument.Parse(await _client.GetStringAsync($"{sidecar.AdminAddress}/debug/propagation"));
        Assert.Equal(1, propagation.RootElement.GetProperty("unattributed_calls").GetInt32());
        Assert.Equal(0, propagation.RootElement.GetProperty("breaks").GetArrayLength());
    }

    [Fact]
    public async Task ClientLeavingDuringAnInjectedDelay_IsDCWithCode0_NotALocal500()
    {
        var accessLog = InProcessSidecar.NewAccessLogPath();
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, new Dictionary<string, string?>
        {
            ["MeshLite:Fault:Delay:Percentage"] = "100",
            ["MeshLite:Fault:Delay:FixedDelayMs"] = "30000",
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = accessLog,
        });

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.GetAsync($"{sidecar.InboundAddress}/slow", cts.Token));

        var line = Assert.Single(await InProcessSidecar.WaitForAccessLinesAsync(accessLog, 1));
        Assert.Contains("\"GET /slow HTTP/1.1\" 0 DI,DC downstream_remote_disconnect ", line);
        Assert.Empty(app.Received);
    }

    [Fact]
    public async Task ClientClosingRightAfterACompleteResponse_IsNotDC()
    {
        var accessLog = InProcessSidecar.NewAccessLogPath();
        var body = new string('x', 64 * 1024);
        await using var app = await TestApp.StartAsync(context => context.Response.WriteAsync(body));
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, new Dictionary<string, string?>
        {
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = accessLog,
        });

        const int requests = 100;
        for (var i = 0; i < requests; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, sidecar.InboundPort);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /whole/{i} HTTP/1.1\r\nHost: svc\r\n\r\n"));
            await RawHttp.ReadResponseAsync(socket, TimeSpan.FromSeconds(10));
            socket.Close(0);
        }

        var lines = await InProcessSidecar.WaitForAccessLinesAsync(accessLog, requests);
        Assert.Equal(requests, lines.Length);
        Assert.All(lines, line => Assert.Contains(" HTTP/1.1\" 200 - via_upstream ", line));
    }

    [Fact]
    public async Task Limits_HeadersTooLarge431_BodyTooLarge413_ByLengthAndWhileStreaming()
    {
        var accessLog = InProcessSidecar.NewAccessLogPath();
        await using var app = await TestApp.StartAsync(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            await context.Response.WriteAsync($"read {(await reader.ReadToEndAsync()).Length}");
        });
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, new Dictionary<string, string?>
        {
            ["MeshLite:Limits:MaxRequestHeadersTotalSize"] = "4096",
            ["MeshLite:Limits:MaxRequestBodySize"] = "1000",
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = accessLog,
        });

        using var big = new HttpRequestMessage(HttpMethod.Get, $"{sidecar.InboundAddress}/headers");
        big.Headers.TryAddWithoutValidation("x-big", new string('h', 8192));
        using var headersTooLarge = await _client.SendAsync(big);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, headersTooLarge.StatusCode);

        // Each oversized request goes out in one write: the sidecar answers before reading the whole body and then
        // closes, and a client still sending at that moment could have the answer destroyed by the reset that follows.
        var byLength = await SendWholeAsync(sidecar.InboundPort, $"POST /by-length HTTP/1.1\r\nHost: svc\r\nContent-Length: 2000\r\n\r\n{new string('x', 2000)}");
        Assert.Equal(413, byLength.Status);
        var whileStreaming = await SendWholeAsync(sidecar.InboundPort,
            $"POST /chunked HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n{new string('x', 1000)}\r\n3e8\r\n{new string('x', 1000)}\r\n0\r\n\r\n");
        Assert.Equal(413, whileStreaming.Status);

        using var small = await _client.PostAsync($"{sidecar.InboundAddress}/small", new ByteArrayContent(new byte[500]));
        Assert.Equal("read 500", await small.Content.ReadAsStringAsync());

        var lines = await InProcessSidecar.WaitForAccessLinesAsync(accessLog, 3);
        Assert.Contains(lines, l => l.Contains("\"POST /by-length HTTP/1.1\" 413 - request_payload_too_large", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"POST /chunked HTTP/1.1\" 413 - request_payload_too_large", StringComparison.Ordinal));
        Assert.Single(app.Received, r => r.ContainsKey("content-length") && r["content-length"] == "500");
    }

    private static async Task<RawResponse> SendWholeAsync(int port, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        return await RawHttp.ReadResponseAsync(socket, TimeSpan.FromSeconds(10));
    }

    /// <summary>The sidecar's own transformer, failing at the response trailers (HTTP/2 responses have them), after the body went out.</summary>
    private sealed class ThrowingTrailersTransformer(MetadataExchange metadata, TraceKeeper keeper) : SidecarTransformer(metadata, keeper)
    {
        public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken) =>
            httpContext.Response.SupportsTrailers()
                ? throw new InvalidOperationException("fails after the response started")
                : base.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);
    }
}
