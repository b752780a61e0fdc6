using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace MeshLite.IntegrationTests;

/// <summary>Sidecar A's outbound listener → sidecar B's inbound listener → app B, and every failure outcome, on real sockets.</summary>
public class ProxyTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null, AllowAutoRedirect = false });

    private static async Task<(TestApp AppB, InProcessSidecar B, InProcessSidecar A)> StartPairAsync(Dictionary<string, string?>? aConfig = null)
    {
        var appB = await TestApp.StartAsync(async context =>
        {
            context.Response.Headers["x-app"] = "b";
            await context.Response.WriteAsync($"b saw {context.Request.Method} {context.Request.Path}{context.Request.QueryString} host={context.Request.Host}");
        });
        var b = await InProcessSidecar.StartAsync("b", appB.Port);
        var config = new Dictionary<string, string?>
        {
            ["MeshLite:Services:b:Port"] = "8080",
            ["MeshLite:Services:b:Endpoints:0"] = b.InboundAddress,
        };
        foreach (var (k, v) in aConfig ?? [])
        {
            config[k] = v;
        }

        var a = await InProcessSidecar.StartAsync("a", 1, config);
        return (appB, b, a);
    }

    [Theory]
    [InlineData("b")]
    [InlineData("b:8080")]
    [InlineData("b.default")]
    [InlineData("b.default.svc.cluster.local")]
    [InlineData("b.default.svc.cluster.local:8080")]
    public async Task Outbound_ByHostHeader_ReachesAppBThroughBInbound(string host)
    {
        var (appB, b, a) = await StartPairAsync();
        await using var _ = appB;
        await using var __ = b;
        await using var ___ = a;

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/orders/1?x=2");
        request.Headers.Host = host;
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"b saw GET /orders/1?x=2 host={host}", await response.Content.ReadAsStringAsync());
        Assert.Equal("envoy", response.Headers.Server.ToString());
        Assert.True(response.Headers.Contains("x-envoy-upstream-service-time"));
        Assert.Equal("b", response.Headers.GetValues("x-app").Single());
        var seen = Assert.Single(appB.Received);
        Assert.Equal(36, seen["x-request-id"].Length);
        Assert.Equal("http", seen["x-forwarded-proto"]);
        Assert.False(seen.ContainsKey("x-forwarded-for"));
        Assert.False(seen.ContainsKey("x-envoy-decorator-operation"));
    }

    [Fact]
    public async Task Outbound_AsHttpProxy_AbsoluteFormReachesAppB()
    {
        var (appB, b, a) = await StartPairAsync();
        await using var _ = appB;
        await using var __ = b;
        await using var ___ = a;

        using var proxied = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(a.OutboundAddress), UseProxy = true });
        var body = await proxied.GetStringAsync("http://b/via-proxy");

        Assert.Equal("b saw GET /via-proxy host=b", body);
    }

    [Fact]
    public async Task Inbound_AddsIstioEnvoyServerHeader_AndUpstreamServiceTime()
    {
        await using var app = await TestApp.StartEchoAsync("hello");
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);

        using var response = await _client.GetAsync($"{sidecar.InboundAddress}/x");

        Assert.Equal("hello", await response.Content.ReadAsStringAsync());
        Assert.Equal("istio-envoy", response.Headers.Server.ToString());
        Assert.True(long.Parse(response.Headers.GetValues("x-envoy-upstream-service-time").Single()) >= 0);
    }

    [Fact]
    public async Task Inbound_AppRefusesConnection_503UF()
    {
        var closedPort = FreePort();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", closedPort);

        using var response = await _client.GetAsync($"{sidecar.InboundAddress}/x");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("reset reason: connection failure", body);
        Assert.Contains("response_flags: UF", body);
    }

    [Fact]
    public async Task Outbound_DestinationRefusesConnection_503UF()
    {
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?>
        {
            ["MeshLite:Services:payment:Endpoints:0"] = $"http://127.0.0.1:{FreePort()}",
        });

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/pay") { Headers = { Host = "payment" } };
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("response_flags: UF", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Inbound_SlowApp_504UT()
    {
        await using var app = await TestApp.StartAsync(async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted);
            await context.Response.WriteAsync("late");
        });
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, new Dictionary<string, string?>
        {
            ["MeshLite:Inbound:Timeout"] = "00:00:00.300",
        });

        using var response = await _client.GetAsync($"{sidecar.InboundAddress}/slow");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("upstream request timeout (response_flags: UT)", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Outbound_ServiceWithNoEndpoints_503UH()
    {
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?>
        {
            ["MeshLite:Services:scaled-to-zero:Port"] = "80",
        });

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/") { Headers = { Host = "scaled-to-zero" } };
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("no healthy upstream (response_flags: UH)", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Outbound_HostThatLoopsBackToItself_404NR()
    {
        await using var a = await InProcessSidecar.StartAsync("a", 1);

        using var response = await _client.GetAsync($"{a.OutboundAddress}/loop");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("response_flags: NR", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Outbound_UnknownHost_AllowAny_PassesThroughToThatHost()
    {
        await using var app = await TestApp.StartEchoAsync("external");
        await using var a = await InProcessSidecar.StartAsync("a", 1);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/") { Headers = { Host = $"127.0.0.1:{app.Port}" } };
        using var response = await _client.SendAsync(request);

        Assert.Equal("external", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Outbound_UnknownHost_RegistryOnly_502BlackHole_KnownHostStillWorks()
    {
        var (appB, b, a) = await StartPairAsync(new() { ["MeshLite:OutboundTrafficPolicy"] = "REGISTRY_ONLY" });
        await using var _ = appB;
        await using var __ = b;
        await using var ___ = a;
        await using var external = await TestApp.StartEchoAsync("external");

        using var blocked = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/") { Headers = { Host = $"127.0.0.1:{external.Port}" } };
        using var blockedResponse = await _client.SendAsync(blocked);
        using var allowed = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/ok") { Headers = { Host = "b" } };
        using var allowedResponse = await _client.SendAsync(allowed);

        Assert.Equal(HttpStatusCode.BadGateway, blockedResponse.StatusCode);
        Assert.Contains("BlackHoleCluster", await blockedResponse.Content.ReadAsStringAsync());
        Assert.Empty(external.Received);
        Assert.Equal(HttpStatusCode.OK, allowedResponse.StatusCode);
    }

    [Fact]
    public async Task Inbound_AppResetsMidResponse_ClientSeesTheResponseCutShort_AndTheHopIsFlaggedUC()
    {
        var headersReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(async context =>
        {
            context.Response.ContentLength = 1000;
            await context.Response.WriteAsync("partial");
            await context.Response.Body.FlushAsync();
            await headersReceived.Task.WaitAsync(TimeSpan.FromSeconds(10));
            context.Abort();
        });
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);

        using var response = await _client.GetAsync($"{sidecar.InboundAddress}/x", HttpCompletionOption.ResponseHeadersRead);
        headersReceived.SetResult();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsStringAsync());

        var sample = await ScrapeOneAsync(sidecar);
        Assert.Contains(sample["response_flags"], new[] { "UC", "UR" });
        Assert.Equal("200", sample["response_code"]);
    }

    [Fact]
    public async Task Inbound_AppResetsHttp2StreamMidResponse_HopIsFlaggedUR()
    {
        var headersReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(async context =>
        {
            await context.Response.WriteAsync("partial");
            await context.Response.Body.FlushAsync();
            await headersReceived.Task.WaitAsync(TimeSpan.FromSeconds(10));
            context.Abort();
        }, HttpProtocols.Http2);
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, new Dictionary<string, string?> { ["MeshLite:Inbound:AppProtocol"] = "http2" });

        using var response = await _client.GetAsync($"{sidecar.InboundAddress}/x", HttpCompletionOption.ResponseHeadersRead);
        headersReceived.SetResult();
        await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsStringAsync());

        var sample = await ScrapeOneAsync(sidecar);
        Assert.Equal("UR", sample["response_flags"]);
    }

    [Fact]
    public async Task ClientGoesAway_BeforeTheResponse_HopIsFlaggedDCWithCode0()
    {
        var appReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(async context =>
        {
            appReached.SetResult();
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
        });
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);

        using var cts = new CancellationTokenSource();
        var call = _client.GetAsync($"{sidecar.InboundAddress}/x", cts.Token);
        await appReached.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var sample = await ScrapeOneAsync(sidecar);
        Assert.Equal("DC", sample["response_flags"]);
        Assert.Equal("0", sample["response_code"]);
    }

    private static async Task<Sample> ScrapeOneAsync(InProcessSidecar sidecar)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
            var samples = metrics.Where(m => m.Name == "istio_requests_total").ToList();
            if (samples.Count > 0 || DateTime.UtcNow > deadline)
            {
                return Assert.Single(samples);
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task HopByHopHeaders_NamedByConnection_AreNotForwarded()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{sidecar.InboundAddress}/");
        request.Headers.Connection.Add("x-hop-secret");
        request.Headers.Add("x-hop-secret", "1");
        request.Headers.Add("x-end-to-end", "1");
        using var response = await _client.SendAsync(request);

        var seen = Assert.Single(app.Received);
        Assert.False(seen.ContainsKey("x-hop-secret"));
        Assert.Equal("1", seen["x-end-to-end"]);
    }

    [Fact]
    public async Task Grpc_OverCleartextHttp2_PassesThroughBothSidecars_WithTrailers()
    {
        await using var app = await TestApp.StartAsync(async context =>
        {
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(new byte[] { 0, 0, 0, 0, 2, 8, 1 });
            context.Response.AppendTrailer("grpc-status", "0");
            context.Response.AppendTrailer("grpc-message", "fine");
            context.Response.AppendTrailer("x-protocol-seen", context.Request.Protocol);
        }, HttpProtocols.Http2);
        await using var b = await InProcessSidecar.StartAsync("b", app.Port);
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?> { ["MeshLite:Services:b:Endpoints:0"] = b.InboundAddress });

        using var request = new HttpRequestMessage(HttpMethod.Post, $"{a.OutboundAddress}/greet.Greeter/SayHello")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Headers.Host = "b";
        request.Content.Headers.ContentType = new("application/grpc");
        request.Headers.TE.ParseAdd("trailers");
        using var response = await _client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 2, 8, 1 }, body);
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal("fine", response.TrailingHeaders.GetValues("grpc-message").Single());
        Assert.Equal("HTTP/2", response.TrailingHeaders.GetValues("x-protocol-seen").Single());
    }

    [Fact]
    public async Task Http11_OnBothListeners_ReachesAnHttp11App()
    {
        var (appB, b, a) = await StartPairAsync();
        await using var _ = appB;
        await using var __ = b;
        await using var ___ = a;

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/") { Version = HttpVersion.Version11, Headers = { Host = "b" } };
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WebSocket_UpgradePassesThroughInbound()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var wsApp = builder.Build();
        wsApp.UseWebSockets();
        wsApp.Run(async context =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            await socket.SendAsync(Encoding.UTF8.GetBytes("echo:" + Encoding.UTF8.GetString(buffer, 0, received.Count)), WebSocketMessageType.Text, true, CancellationToken.None);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        });
        await wsApp.StartAsync();
        var appPort = new Uri(wsApp.Urls.First()).Port;
        await using var sidecar = await InProcessSidecar.StartAsync("ws", appPort);

        using var client = new ClientWebSocket();
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{sidecar.InboundPort}/chat"), CancellationToken.None);
        await client.SendAsync("hi"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var reply = new byte[1024];
        var result = await client.ReceiveAsync(reply, CancellationToken.None);

        Assert.Equal("echo:hi", Encoding.UTF8.GetString(reply, 0, result.Count));
    }

    internal static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
