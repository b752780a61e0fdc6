using System.Diagnostics;
using System.Net;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Hosting;
using MeshLite.IntegrationTests.Common;
using MeshLite.Listeners;
using MeshLite.Tools;
using Microsoft.Extensions.DependencyInjection;

namespace MeshLite.IntegrationTests;

/// <summary>What a sidecar that <c>meshlite inject</c> or the chart put in a pod relies on, through real sockets.</summary>
public class InjectedSidecarTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    private static int MetricsPort(InProcessSidecar sidecar) => sidecar.App.Services.GetRequiredService<ListenerBindings>().Port(ListenerKind.Metrics);

    [Fact]
    public async Task AppProbes_RunTheAppsOwnProbesFromInsideThePod_ForTheKubelet()
    {
        var healthy = true;
        string? probeHeader = null;
        await using var app = await TestApp.StartAsync(context =>
        {
            probeHeader = context.Request.Headers["X-Probe"];
            context.Response.StatusCode = context.Request.Path == "/health" && healthy ? 200 : 500;
            return Task.CompletedTask;
        });
        var closed = ProxyTests.FreePort();
        var probes = """
            {"/app-health/web/readyz":{"httpGet":{"httpHeaders":[{"name":"X-Probe","value":"kubelet"}],"path":"/health","port":APP},"timeoutSeconds":2},
             "/app-health/web/livez":{"tcpSocket":{"port":APP}},
             "/app-health/web/startupz":{"tcpSocket":{"port":CLOSED}}}
            """.Replace("APP", app.Port.ToString(), StringComparison.Ordinal).Replace("CLOSED", closed.ToString(), StringComparison.Ordinal);
        await using var sidecar = await InProcessSidecar.StartAsync("web", app.Port, new Dictionary<string, string?> { ["MeshLite:AppProbes"] = probes });
        var metrics = $"http://127.0.0.1:{MetricsPort(sidecar)}";

        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(metrics + "/app-health/web/readyz")).StatusCode);
        Assert.Equal("kubelet", probeHeader);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(metrics + "/app-health/web/livez")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _client.GetAsync(metrics + "/app-health/web/startupz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync(metrics + "/app-health/other/readyz")).StatusCode);

        healthy = false;
        var unhealthy = await _client.GetAsync(metrics + "/app-health/web/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthy.StatusCode);
        Assert.Contains("app answered 500", await unhealthy.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Only on the metrics port (the one the kubelet reaches); the proxy listeners pass the path to the app.
        healthy = true;
        Assert.Equal(HttpStatusCode.InternalServerError, (await _client.GetAsync(sidecar.InboundAddress + "/app-health/web/readyz")).StatusCode);
    }

    [Theory]
    [InlineData("{not json", "MeshLite:AppProbes is not a JSON object of probes")]
    [InlineData("""{"/app-health/web/readyz":{"httpGet":{"path":"/","port":0}}}""", "port '0' must be a number between 1 and 65535")]
    [InlineData("""{"/healthz":{"tcpSocket":{"port":80}}}""", "'/healthz' must start with /app-health/")]
    [InlineData("""{"/app-health/web/readyz":{}}""", "needs exactly one of httpGet and tcpSocket")]
    public void BadAppProbes_RefuseToStart_NamingTheKey(string probes, string expected)
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteApplication.Build(
            ["--MeshLite:ServiceName=web", "--MeshLite:Inbound:AppPort=8080", "--MeshLite:AppProbes=" + probes]));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuitQuitQuit_EndsTheSidecar_SoAPlainSidecarsJobCanComplete()
    {
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("report", receiver: null));
        var response = await _client.PostAsync($"http://127.0.0.1:{sidecar.AdminPort}/quitquitquit", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Wait_ReturnsOnceTheSidecarIsReady_AndFailsWithTheReasonWhenItNeverIs()
    {
        await using var sidecar = await InProcessSidecar.StartAsync("web", 1);
        var error = new StringWriter();
        Assert.Equal(0, await WaitCommand.RunAsync(["--url", sidecar.AdminAddress + "/healthz/ready", "--timeout", "10s"], error, CancellationToken.None));

        var closed = ProxyTests.FreePort();
        var watch = Stopwatch.StartNew();
        Assert.Equal(1, await WaitCommand.RunAsync(["--url", $"http://127.0.0.1:{closed}/healthz/ready", "--timeout", "1s"], error, CancellationToken.None));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        Assert.Contains($"MeshLite was not ready at http://127.0.0.1:{closed}/healthz/ready in time", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClusterDomain_NamesTheServiceAndTheRegistry()
    {
        await using var sidecar = await InProcessSidecar.StartAsync("web", 1, new Dictionary<string, string?>
        {
            ["MeshLite:ClusterDomain"] = "corp.example",
            ["MeshLite:Services:payment:Endpoints:0"] = "http://127.0.0.1:1",
        });
        var clusters = await _client.GetStringAsync(sidecar.AdminAddress + "/clusters");
        Assert.Contains("outbound|80||payment.default.svc.corp.example", clusters, StringComparison.Ordinal);
        Assert.Equal("web.default.svc.corp.example", sidecar.App.Services.GetRequiredService<MeshLiteSettings>().ServiceFqdn);

        var ex = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteApplication.Build(
            ["--MeshLite:ServiceName=web", "--MeshLite:Inbound:AppPort=8080", "--MeshLite:ClusterDomain=Corp_Example"]));
        Assert.Contains("MeshLite:ClusterDomain 'Corp_Example'", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The compose layout on one machine: each service is the compose file's own app (a Python process on 127.0.0.1)
    /// calling out through <c>HTTP_PROXY</c>, beside its own MeshLite; one trace crosses both.
    /// </summary>
    [Fact]
    public async Task ComposeApp_CallingThroughHttpProxy_JoinsOneTraceAcrossTwoSidecars()
    {
        var python = RequiredTools.RequirePython();
        await using var receiver = await OtlpReceiver.StartAsync();
        var app = Path.Combine(Repository.Root, "config", "compose", "app.py");

        // Sidecar processes, as in two pods (in one process, two tracer providers would both see every span).
        var paymentPort = ProxyTests.FreePort();
        await using var payment = await SidecarProcess.StartAsync(TracingTests.Config("payment", receiver, ("MeshLite:Inbound:AppPort", paymentPort.ToString())));
        var frontendPort = ProxyTests.FreePort();
        await using var frontend = await SidecarProcess.StartAsync(TracingTests.Config("frontend", receiver, ("MeshLite:Inbound:AppPort", frontendPort.ToString()),
            ("MeshLite:Services:payment:Endpoints:0", $"http://127.0.0.1:{payment.InboundPort}")));
        var frontendInbound = $"http://127.0.0.1:{frontend.InboundPort}";

        using var paymentApp = StartApp(python, app, "payment", paymentPort, payment.OutboundPort, "");
        using var frontendApp = StartApp(python, app, "frontend", frontendPort, frontend.OutboundPort, "payment");
        try
        {
            await Eventually.Until(() => Listening(frontendPort) && Listening(paymentPort), "the Python apps to listen");

            var response = await _client.GetAsync(frontendInbound + "/checkout");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("\"payment\": 200", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            var spans = await receiver.WaitForAsync(s => s.Count >= 3,
                what: "frontend's SERVER and CLIENT spans and payment's SERVER span");
            var server = spans.Single(s => s.Service.StartsWith("frontend", StringComparison.Ordinal) && s.Kind == 2 && s.Attributes.GetValueOrDefault("http.url", "").Contains("/checkout", StringComparison.Ordinal));
            var client = spans.Single(s => s.Service.StartsWith("frontend", StringComparison.Ordinal) && s.Kind == 3);
            var paymentServer = spans.Single(s => s.Service.StartsWith("payment", StringComparison.Ordinal) && s.Kind == 2 && s.TraceId == server.TraceId);
            Assert.Equal(server.TraceId, client.TraceId);
            Assert.Equal(client.SpanId, paymentServer.ParentSpanId);
        }
        finally
        {
            frontendApp.Kill();
            paymentApp.Kill();
        }
    }

    private static bool Listening(int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.TcpClient();
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static Process StartApp(string python, string script, string service, int port, int outbound, string calls)
    {
        var start = new ProcessStartInfo(python) { ArgumentList = { "-u", script }, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["SERVICE"] = service;
        start.Environment["PORT"] = port.ToString();
        start.Environment["CALLS"] = calls;
        start.Environment["http_proxy"] = start.Environment["HTTP_PROXY"] = $"http://127.0.0.1:{outbound}";
        start.Environment["no_proxy"] = start.Environment["NO_PROXY"] = "localhost,127.0.0.1,::1";
        return Process.Start(start)!;
    }
}
