using System.Net;
using System.Text.Json;
using MeshLite.Configuration;
using MeshLite.Hosting;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

public class AdminTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false });

    [Fact]
    public async Task Admin_ServesReadinessAndConfigDump_WithSecretsRedacted()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, new Dictionary<string, string?>
        {
            ["MeshLite:Tracing:Otlp:Headers"] = "authorization=Bearer s3cret",
        });

        using var ready = await _client.GetAsync($"{sidecar.AdminAddress}/healthz/ready");
        var dump = await _client.GetStringAsync($"{sidecar.AdminAddress}/config_dump");

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.DoesNotContain("s3cret", dump);
        using var json = JsonDocument.Parse(dump);
        Assert.Equal("sidecar~127.0.0.1~svc-pod.default~default.svc.cluster.local", json.RootElement.GetProperty("identity").GetProperty("node_id").GetString());
        Assert.Equal(sidecar.InboundPort, json.RootElement.GetProperty("listeners").GetProperty("Inbound").GetInt32());
        Assert.Equal("[redacted]", json.RootElement.GetProperty("meshlite").GetProperty("Tracing").GetProperty("Otlp").GetProperty("Headers").GetString());
    }

    [Fact]
    public async Task Admin_Draining_TurnsReadinessOff()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);

        await _client.PostAsync($"{sidecar.AdminAddress}/drain_listeners", null);
        using var ready = await _client.GetAsync($"{sidecar.AdminAddress}/healthz/ready");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task AdminPaths_OnProxyListeners_GoToTheApp_AndUnknownAdminPathsAre404()
    {
        await using var app = await TestApp.StartEchoAsync("from-app");
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);

        var viaInbound = await _client.GetStringAsync($"{sidecar.InboundAddress}/config_dump");
        using var unknown = await _client.GetAsync($"{sidecar.AdminAddress}/not-an-admin-path");
        using var clusters = await _client.GetAsync($"{sidecar.AdminAddress}/clusters");

        Assert.Equal("from-app", viaInbound);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("inbound|" + app.Port + "||", await clusters.Content.ReadAsStringAsync());
    }

    [Fact]
    public void Build_InvalidConfiguration_ThrowsOneMessageNamingEveryKey()
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteApplication.Build(
            ["--MeshLite:ServiceName=Payment_Service", "--MeshLite:Inbound:AppPort=0", "--MeshLite:OutboundTrafficPolicy=DENY"]));

        Assert.Contains("MeshLite:ServiceName 'Payment_Service'", ex.Message);
        Assert.Contains("MeshLite:Inbound:AppPort '0'", ex.Message);
        Assert.Contains("MeshLite:OutboundTrafficPolicy 'DENY'", ex.Message);
    }

    [Fact]
    public async Task Process_InvalidConfiguration_ExitsWithTheMessage()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => SidecarProcess.StartAsync(new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "svc",
            ["MeshLite:Tracing:Sampling"] = "250",
        }));

        Assert.Contains("MeshLite:Inbound:AppPort is required", ex.Message);
        Assert.Contains("MeshLite:Tracing:Sampling '250'", ex.Message);
    }
}
