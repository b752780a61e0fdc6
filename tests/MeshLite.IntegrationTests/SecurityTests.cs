using System.Net;
using System.Net.Sockets;
using System.Text;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace MeshLite.IntegrationTests;

/// <summary>
/// What a caller must not reach through a sidecar: the admin surface from a proxy port, a destination outside the
/// registry under REGISTRY_ONLY however its address is spelled, and mesh-internal headers outside the mesh.
/// </summary>
public class SecurityTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    [Fact]
    public async Task ByDefault_TheAdminAndOutboundListenersBindLoopbackOnly()
    {
        // No bind address configured for either (the test defaults set only ports): what the server bound is the default.
        await using var sidecar = await InProcessSidecar.StartAsync("svc", 1);
        var addresses = sidecar.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Assert.Contains($"http://127.0.0.1:{sidecar.AdminPort}", addresses);
        Assert.Contains($"http://127.0.0.1:{sidecar.OutboundPort}", addresses);
        Assert.DoesNotContain(addresses, a => a.EndsWith($":{sidecar.AdminPort}", StringComparison.Ordinal) && !a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/config_dump")]
    [InlineData("/debug/traces")]
    [InlineData("/debug/propagation")]
    [InlineData("/clusters")]
    [InlineData("/stats/prometheus")]
    [InlineData("/healthz/ready")]
    [InlineData("/drain_listeners")]
    public async Task AdminPaths_OnTheProxyListeners_AreTheAppsPaths_NeverTheAdminSurface(string path)
    {
        await using var app = await TestApp.StartAsync(context => context.Response.WriteAsync("app:" + context.Request.Path));
        await using var b = await InProcessSidecar.StartAsync("b", app.Port);
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?> { ["MeshLite:Services:b:Endpoints:0"] = b.InboundAddress });

        Assert.Equal("app:" + path, await _client.GetStringAsync(b.InboundAddress + path));
        using var outbound = new HttpRequestMessage(HttpMethod.Get, a.OutboundAddress + path);
        outbound.Headers.Host = "b";
        using var response = await _client.SendAsync(outbound);
        Assert.Equal("app:" + path, await response.Content.ReadAsStringAsync());
        Assert.Equal(2, app.Received.Count);
    }

    [Fact]
    public async Task RegistryOnly_HoldsAgainstEverySpellingOfAnAddressOutsideTheRegistry()
    {
        // A server on this machine that is not in the registry: nothing below may reach it.
        await using var outsider = await TestApp.StartEchoAsync("outsider");
        await using var registered = await TestApp.StartEchoAsync("registered");
        await using var b = await InProcessSidecar.StartAsync("b", registered.Port);
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?>
        {
            ["MeshLite:OutboundTrafficPolicy"] = "REGISTRY_ONLY",
            ["MeshLite:Services:b:Endpoints:0"] = b.InboundAddress,
        });

        var port = outsider.Port;
        string[] hosts =
        [
            $"127.0.0.1:{port}", $"2130706433:{port}", $"0x7f000001:{port}", $"0177.0.0.1:{port}", $"127.1:{port}", $"127.0.0.1.:{port}",
            $"[::1]:{port}", $"[::ffff:127.0.0.1]:{port}", $"[0:0:0:0:0:ffff:7f00:1]:{port}", $"[::ffff:7f00:1]:{port}",
            $"localhost:{port}", $"LOCALHOST:{port}", $"localhost.:{port}", $"foo.localhost:{port}", $"0.0.0.0:{port}", $"0:{port}",
        ];

        var requests = new List<string>();
        foreach (var host in hosts)
        {
            requests.Add($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            requests.Add($"GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
            requests.Add($"GET http://b@{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
            requests.Add($"GET http://{host}/ HTTP/1.1\r\nHost: b\r\n\r\n");
            requests.Add($"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        }

        requests.Add($"GET http://b:x@127.0.0.1:{port}/ HTTP/1.1\r\nHost: b\r\n\r\n");
        requests.Add("CONNECT b:80 HTTP/1.1\r\nHost: b:80\r\n\r\n");

        foreach (var request in requests)
        {
            var response = await SendRawAsync(a.OutboundPort, request);
            Assert.True(response is null || response.Status >= 400, $"{request.Split('\r')[0]} answered {response?.Status}: {response?.Body}");
            Assert.DoesNotContain("outsider", response?.Body ?? "");
        }

        Assert.Empty(outsider.Received);

        // The registry itself still works, by name.
        var ok = await SendRawAsync(a.OutboundPort, "GET / HTTP/1.1\r\nHost: b\r\n\r\n");
        Assert.Equal((200, "registered"), (ok!.Status, ok.Body));
    }

    [Theory]
    [InlineData("MeshLite:Tracing:Sampling", "100")]
    [InlineData("MeshLite:Tracing:Enabled", "false")]
    public async Task Passthrough_NeverCarriesTheDecoratorOrPeerMetadata_WhateverTheAppSent(string key, string value)
    {
        await using var external = await TestApp.StartEchoAsync("external");
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?> { [key] = value });

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{a.OutboundAddress}/out");
        request.Headers.Host = $"127.0.0.1:{external.Port}";
        request.Headers.TryAddWithoutValidation("x-envoy-decorator-operation", "internal-operation");
        request.Headers.TryAddWithoutValidation("x-envoy-peer-metadata", "ChoKCkNMVVNURVJfSUQSDBoKS3ViZXJuZXRlcw==");
        request.Headers.TryAddWithoutValidation("x-envoy-peer-metadata-id", "sidecar~10.0.0.1~a~default");
        using var response = await _client.SendAsync(request);

        Assert.Equal("external", await response.Content.ReadAsStringAsync());
        var seen = Assert.Single(external.Received);
        Assert.DoesNotContain(seen.Keys, k => k.StartsWith("x-envoy-", StringComparison.Ordinal));
        Assert.Equal(value != "false", seen.ContainsKey("traceparent"));
    }

    private static async Task<RawResponse?> SendRawAsync(int port, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        try
        {
            return await RawHttp.ReadResponseAsync(socket, TimeSpan.FromSeconds(10));
        }
        catch (IOException)
        {
            return null;
        }
    }
}
