using System.Diagnostics;
using System.Net;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

/// <summary>Traces across sidecar processes, received over OTLP (gRPC and HTTP) by a receiver in the test.</summary>
public class TracingTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private static async Task<HttpResponseMessage> SendAsync(string url, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await _client.SendAsync(request);
    }

    [Fact]
    public async Task FourServices_OneTrace_ServerClientChain_WithEnvoyNamesAndTags()
    {
        string[] chain = ["frontend", "gateway", "payment", "bank"];
        await using var mesh = await Mesh.StartChainAsync(chain, new Dictionary<string, string?>
        {
            ["MeshLite:Services:gateway:Port"] = "8080",
            ["MeshLite:Tracing:CustomTags:team:Literal:Value"] = "checkout",
            ["MeshLite:Tracing:CustomTags:tenant:Header:Name"] = "x-tenant",
            ["MeshLite:Tracing:CustomTags:region:Environment:Name"] = "MESHLITE_TEST_UNSET_VARIABLE",
            ["MeshLite:Tracing:CustomTags:region:Environment:DefaultValue"] = "local",
        });

        using var response = await SendAsync(mesh.EntryAddress + "/checkout?cart=42", ("x-tenant", "acme"), ("User-Agent", "mesh-test/1.0"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var spans = await mesh.Receiver.WaitForAsync(s => s.Count >= 7, what: "7 spans");
        var traceId = Assert.Single(spans.Select(s => s.TraceId).Distinct());
        Assert.Equal(32, traceId.Length);

        // SERVER(frontend) → CLIENT(frontend→gateway) → SERVER(gateway) → CLIENT(gateway→payment) → … → SERVER(bank).
        var root = Assert.Single(spans, s => s.ParentSpanId.Length == 0);
        Assert.Equal(("frontend.default", ReceivedSpan.Server), (root.Service, root.Kind));
        var current = root;
        for (var i = 1; i < chain.Length; i++)
        {
            var client = Assert.Single(spans, s => s.ParentSpanId == current.SpanId);
            Assert.Equal((chain[i - 1] + ".default", ReceivedSpan.Client), (client.Service, client.Kind));
            var server = Assert.Single(spans, s => s.ParentSpanId == client.SpanId);
            Assert.Equal((chain[i] + ".default", ReceivedSpan.Server), (server.Service, server.Kind));
            Assert.Equal(client.Name, server.Name);
            current = server;
        }

        Assert.Equal("frontend.default.svc.cluster.local:80/*", root.Name);
        var gatewayHop = spans.Where(s => s.Name == "gateway.default.svc.cluster.local:8080/*").ToList();
        Assert.Equal(2, gatewayHop.Count);

        var requestId = root.Tag("guid:x-request-id");
        Assert.All(spans, s => Assert.Equal(requestId, s.Tag("guid:x-request-id")));
        Assert.Equal('9', requestId[14]);

        Assert.Equal("sidecar~127.0.0.10~frontend-7d4f9.default~default.svc.cluster.local", root.Tag("node_id"));
        Assert.Equal("http://127.0.0.1:" + mesh.Sidecars[0].InboundPort + "/checkout?cart=42", root.Tag("http.url"));
        Assert.Equal("GET", root.Tag("http.method"));
        Assert.Equal("HTTP/1.1", root.Tag("http.protocol"));
        Assert.Equal("mesh-test/1.0", root.Tag("user_agent"));
        Assert.Equal("127.0.0.1", root.Tag("peer.address"));
        Assert.Equal("0", root.Tag("request_size"));
        Assert.Equal("end of chain".Length.ToString(), root.Tag("response_size"));
        Assert.Equal("proxy", root.Tag("component"));
        Assert.Equal($"inbound|{mesh.Apps[0].Port}||", root.Tag("upstream_cluster"));
        Assert.Equal($"inbound|{mesh.Apps[0].Port}||;", root.Tag("upstream_cluster.name"));
        Assert.Equal("200", root.Tag("http.status_code"));
        Assert.Equal("-", root.Tag("response_flags"));
        Assert.Equal("-", root.Tag("downstream_cluster"));
        Assert.Equal("frontend", root.Tag("istio.canonical_service"));
        Assert.Equal("latest", root.Tag("istio.canonical_revision"));
        Assert.Equal("cluster.local", root.Tag("istio.mesh_id"));
        Assert.Equal("default", root.Tag("istio.namespace"));
        Assert.Equal("Kubernetes", root.Tag("istio.cluster_id"));
        Assert.Equal("checkout", root.Tag("team"));
        Assert.Equal("acme", root.Tag("tenant"));
        Assert.Equal("local", root.Tag("region"));
        Assert.False(root.Attributes.ContainsKey("error"));

        var frontendClient = Assert.Single(spans, s => s.Service == "frontend.default" && s.Kind == ReceivedSpan.Client);
        Assert.Equal("outbound|8080||gateway.default.svc.cluster.local", frontendClient.Tag("upstream_cluster"));
        Assert.Equal("gateway", new Uri(frontendClient.Tag("http.url")).Host);

        Assert.Equal("frontend.default", root.Resource["service.name"]);
        Assert.Equal("frontend-7d4f9", root.Resource["k8s.pod.name"]);
        Assert.Equal("default", root.Resource["k8s.namespace.name"]);
        Assert.Equal("default", root.Resource["service.namespace"]);
        Assert.Contains(spans, s => s.Transport == "grpc");
        Assert.Contains(spans, s => s.Transport == "http");

        // The app never sees MeshLite's own decorator header; it sees the ids of the SERVER span of its own sidecar.
        var seenByBank = Assert.Single(mesh.Apps[3].Received);
        Assert.False(seenByBank.ContainsKey("x-envoy-decorator-operation"));
        var bankServer = Assert.Single(spans, s => s.Service == "bank.default" && s.Kind == ReceivedSpan.Server);
        Assert.Equal($"00-{traceId}-{bankServer.SpanId}-01", seenByBank["traceparent"]);
        Assert.Equal(bankServer.SpanId, seenByBank["x-b3-spanid"]);
        Assert.Equal(bankServer.ParentSpanId, seenByBank["x-b3-parentspanid"]);
        Assert.Equal("1", seenByBank["x-b3-sampled"]);
    }

    [Fact]
    public async Task UpstreamRefused_ClientSpanIsErrorWith503UF()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var sidecar = await SidecarProcess.StartAsync(Config("a", receiver, ("MeshLite:Services:payment:Endpoints:0", $"http://127.0.0.1:{ProxyTests.FreePort()}")));

        using var response = await SendAsync($"http://127.0.0.1:{sidecar.OutboundPort}/pay", ("Host", "payment"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);

        var span = Assert.Single(await receiver.WaitForAsync(s => s.Count >= 1));
        Assert.Equal(ReceivedSpan.Client, span.Kind);
        Assert.Equal("true", span.Tag("error"));
        Assert.Equal(2, span.StatusCode);
        Assert.Equal("503", span.Tag("http.status_code"));
        Assert.Equal("UF", span.Tag("response_flags"));
        Assert.Equal("payment.default.svc.cluster.local:80/*", span.Name);
        Assert.Equal("outbound|80||payment.default.svc.cluster.local", span.Tag("upstream_cluster"));
    }

    [Fact]
    public async Task FourHundreds_AreNotErrors()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await TestApp.StartAsync(context => { context.Response.StatusCode = 404; return Task.CompletedTask; });
        await using var sidecar = await SidecarProcess.StartAsync(Config("svc", receiver, ("MeshLite:Inbound:AppPort", app.Port.ToString())));

        using var response = await SendAsync($"http://127.0.0.1:{sidecar.InboundPort}/missing");

        var span = Assert.Single(await receiver.WaitForAsync(s => s.Count >= 1));
        Assert.Equal("404", span.Tag("http.status_code"));
        Assert.False(span.Attributes.ContainsKey("error"));
        Assert.Equal(0, span.StatusCode);
    }

    [Fact]
    public async Task DeadCollector_DoesNotSlowOrFailRequests()
    {
        // A collector that accepts connections and never answers, and one that refuses them.
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var silentPort = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var app = await TestApp.StartEchoAsync();
        await using var hanging = await SidecarProcess.StartAsync(Config("a", null,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:Tracing:Otlp:Endpoint", $"http://127.0.0.1:{silentPort}"),
            ("MeshLite:Tracing:Otlp:TimeoutMilliseconds", "30000"), ("MeshLite:Tracing:Otlp:MaxQueueSize", "64"), ("MeshLite:Tracing:Otlp:MaxExportBatchSize", "8")));
        await using var refusing = await SidecarProcess.StartAsync(Config("b", null,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:Tracing:Otlp:Endpoint", $"http://127.0.0.1:{ProxyTests.FreePort()}"),
            ("MeshLite:Tracing:Otlp:Protocol", "http/protobuf")));

        foreach (var sidecar in new[] { hanging, refusing })
        {
            for (var i = 0; i < 300; i++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await SendAsync($"http://127.0.0.1:{sidecar.InboundPort}/r{i}");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);

                // Each export attempt may hang for 30 s; a request that waited on one would take seconds, not milliseconds.
                Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3), $"request {i} took {Stopwatch.GetElapsedTime(started)}");
            }
        }
    }

    [Fact]
    public async Task GracefulShutdown_FlushesQueuedSpans()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await TestApp.StartEchoAsync();
        var sidecar = await SidecarProcess.StartAsync(Config("svc", receiver,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds", "600000")));
        await using var _ = sidecar;

        using var response = await SendAsync($"http://127.0.0.1:{sidecar.InboundPort}/last-words");
        Assert.Empty(receiver.Spans);
        var exitCode = await sidecar.StopGracefullyAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, exitCode);
        Assert.Contains(receiver.Spans, s => s.Tag("http.url").EndsWith("/last-words"));
    }

    [Fact]
    public async Task NoEndpoint_SpansAreServedAsOtlpJsonOnTheAdminPort()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await SidecarProcess.StartAsync(Config("svc", null, ("MeshLite:Inbound:AppPort", app.Port.ToString())));

        using var response = await SendAsync($"http://127.0.0.1:{sidecar.InboundPort}/ring");
        var traceId = Assert.Single(app.Received)["traceparent"].Split('-')[1];
        // The span ends as the response completes, which the client may see first: poll the ring.
        var json = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !json.Contains(traceId, StringComparison.Ordinal) && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            json = await _client.GetStringAsync($"http://127.0.0.1:{sidecar.AdminPort}/debug/traces?traceId={traceId}&limit=10");
        }

        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var span = doc.RootElement.GetProperty("resourceSpans")[0].GetProperty("scopeSpans")[0].GetProperty("spans")[0];
        Assert.Equal(traceId, span.GetProperty("traceId").GetString());
        Assert.Equal(2, span.GetProperty("kind").GetInt32());
        Assert.Contains("\"svc.default\"", json);
    }

    internal static Dictionary<string, string?> Config(string service, OtlpReceiver? receiver, params (string Key, string Value)[] extra)
    {
        // A sidecar process: the in-process defaults, with the access log on (tests read it) and export to the receiver.
        var config = InProcessSidecar.Defaults(service, appPort: 1);
        config.Remove("Logging:LogLevel:Default");
        config["MeshLite:AccessLog:Enabled"] = "true";
        config["MeshLite:Tracing:Sampling"] = "100";
        config["MeshLite:Tracing:Otlp:Endpoint"] = receiver?.GrpcEndpoint;
        config["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "100";
        foreach (var (k, v) in extra)
        {
            config[k] = v;
        }

        return config;
    }
}
