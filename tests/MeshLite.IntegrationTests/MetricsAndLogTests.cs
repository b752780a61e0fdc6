using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>Istio's metrics scraped after real traffic through two sidecar processes, and Envoy-style access-log lines.</summary>
public class MetricsAndLogTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private static readonly string[] _istioLabelOrder =
    [
        "reporter", "source_workload", "source_canonical_service", "source_canonical_revision", "source_workload_namespace",
        "source_principal", "source_app", "source_version", "source_cluster", "destination_workload", "destination_workload_namespace",
        "destination_principal", "destination_app", "destination_version", "destination_service", "destination_canonical_service",
        "destination_canonical_revision", "destination_service_name", "destination_service_namespace", "destination_cluster",
        "request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
    ];

    private static async Task<HttpResponseMessage> CallAsync(int outboundPort, string host, string path, params (string, string)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outboundPort}{path}");
        request.Headers.Host = host;
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await _client.SendAsync(request);
    }

    internal static double Sum(IEnumerable<Sample> samples, string name, params (string Label, string Value)[] match) =>
        samples.Where(s => s.Name == name && match.All(m => s.Labels.Any(l => l.Key == m.Label && l.Value == m.Value))).Sum(s => s.Value);

    [Fact]
    public async Task IstioMetrics_OnBothReporters_ForSuccess4xx503UF504UTandNR()
    {
        await using var appB = await TestApp.StartAsync(async context =>
        {
            switch (context.Request.Path.Value)
            {
                case "/missing":
                    context.Response.StatusCode = 404;
                    break;
                case "/slow":
                    await Task.Delay(TimeSpan.FromSeconds(3), context.RequestAborted);
                    break;
                default:
                    await context.Response.WriteAsync("ok");
                    break;
            }
        });
        await using var b = await SidecarProcess.StartAsync(TracingTests.Config("b", null,
            ("MeshLite:Inbound:AppPort", appB.Port.ToString()), ("MeshLite:Inbound:Timeout", "00:00:00.300"), ("MeshLite:App", "b-app"), ("MeshLite:Version", "v2")));
        await using var a = await SidecarProcess.StartAsync(TracingTests.Config("a", null,
            ("MeshLite:Services:b:Port", "8080"), ("MeshLite:Services:b:Endpoints:0", $"http://127.0.0.1:{b.InboundPort}"),
            ("MeshLite:Services:dead:Endpoints:0", $"http://127.0.0.1:{ProxyTests.FreePort()}")));

        for (var i = 0; i < 3; i++)
        {
            using var ok = await CallAsync(a.OutboundPort, "b", "/ok");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.False(ok.Headers.Contains("x-envoy-peer-metadata"));
        }

        for (var i = 0; i < 2; i++)
        {
            using var missing = await CallAsync(a.OutboundPort, "b", "/missing");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using (var slow = await CallAsync(a.OutboundPort, "b", "/slow"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
        }

        using (var dead = await CallAsync(a.OutboundPort, "dead", "/"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, dead.StatusCode);
        }

        using (var loop = await CallAsync(a.OutboundPort, $"127.0.0.1:{a.OutboundPort}", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, loop.StatusCode);
        }

        Assert.All(appB.Received, seen => Assert.False(seen.ContainsKey("x-envoy-peer-metadata")));

        // A hop is recorded as its response completes, which the client may see first: wait for all of them.
        await Poll(a, m => Sum(m, "istio_requests_total") >= 8, "8 requests on the source reporter");
        await Poll(b, m => Sum(m, "istio_requests_total") >= 6, "6 requests on the destination reporter");
        var source = await PrometheusText.ScrapeAsync(a.MetricsPort);
        var requests = source.Where(s => s.Name == "istio_requests_total").ToList();
        Assert.All(requests, s => Assert.Equal(_istioLabelOrder, s.Labels.Select(l => l.Key)));
        var toB = requests.Single(s => s["destination_service_name"] == "b" && s["response_code"] == "200");
        Assert.Equal(3, toB.Value);
        Assert.Equal("source", toB["reporter"]);
        Assert.Equal("a", toB["source_workload"]);
        Assert.Equal("a", toB["source_canonical_service"]);
        Assert.Equal("b", toB["destination_workload"]);
        Assert.Equal("b-app", toB["destination_app"]);
        Assert.Equal("v2", toB["destination_version"]);
        Assert.Equal("b.default.svc.cluster.local", toB["destination_service"]);
        Assert.Equal("default", toB["destination_service_namespace"]);
        Assert.Equal("unknown", toB["source_principal"]);
        Assert.Equal("http", toB["request_protocol"]);
        Assert.Equal("", toB["grpc_response_status"]);
        Assert.Equal("-", toB["response_flags"]);
        Assert.Equal("unknown", toB["connection_security_policy"]);
        Assert.Equal(2, requests.Single(s => s["destination_service_name"] == "b" && s["response_code"] == "404").Value);
        Assert.Equal(1, requests.Single(s => s["destination_service_name"] == "b" && s["response_code"] == "504").Value);
        var uf = requests.Single(s => s["response_flags"] == "UF");
        Assert.Equal(("503", "dead", "unknown"), (uf["response_code"], uf["destination_service_name"], uf["destination_workload"]));
        var nr = requests.Single(s => s["response_flags"] == "NR");
        Assert.Equal("404", nr["response_code"]);

        var buckets = source.Where(s => s.Name == "istio_request_duration_milliseconds_bucket" && s["destination_service_name"] == "b" && s["response_code"] == "200").ToList();
        Assert.Equal(["0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000", "60000", "300000", "600000", "1800000", "3600000", "+Inf"],
            buckets.Select(s => s["le"]));
        Assert.Equal(3, buckets[^1].Value);
        Assert.Equal(3, Sum(source, "istio_request_bytes_count", ("destination_service_name", "b"), ("response_code", "200")));
        Assert.True(Sum(source, "istio_response_bytes_sum", ("destination_service_name", "b"), ("response_code", "200")) > 3 * "ok".Length);

        var destination = await PrometheusText.ScrapeAsync(b.MetricsPort);
        var inbound = destination.Where(s => s.Name == "istio_requests_total").ToList();
        var fromA = inbound.Single(s => s["response_code"] == "200");
        Assert.Equal(3, fromA.Value);
        Assert.Equal("destination", fromA["reporter"]);
        Assert.Equal("a", fromA["source_workload"]);
        Assert.Equal("b", fromA["destination_workload"]);
        Assert.Equal("b-app", fromA["destination_app"]);
        Assert.Equal("b.default.svc.cluster.local", fromA["destination_service"]);
        Assert.Equal("none", fromA["connection_security_policy"]);
        Assert.Equal(2, inbound.Single(s => s["response_code"] == "404").Value);
        var ut = inbound.Single(s => s["response_flags"] == "UT");
        Assert.Equal("504", ut["response_code"]);

        Assert.Contains(destination, s => s.Name == "process_resident_memory_bytes" || s.Name == "process_working_set_bytes");
        Assert.Contains(destination, s => s.Name.StartsWith("dotnet_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TracingHealth_CountsExportedDroppedAndInvalid()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await TestApp.StartEchoAsync();
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        await using var up = await SidecarProcess.StartAsync(TracingTests.Config("up", receiver, ("MeshLite:Inbound:AppPort", app.Port.ToString())));
        await using var down = await SidecarProcess.StartAsync(TracingTests.Config("down", null, ("MeshLite:Inbound:AppPort", app.Port.ToString()),
            ("MeshLite:Tracing:Otlp:Endpoint", $"http://127.0.0.1:{ProxyTests.FreePort()}")));
        await using var full = await SidecarProcess.StartAsync(TracingTests.Config("full", null, ("MeshLite:Inbound:AppPort", app.Port.ToString()),
            ("MeshLite:Tracing:Otlp:Endpoint", $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}"),
            ("MeshLite:Tracing:Otlp:TimeoutMilliseconds", "30000"), ("MeshLite:Tracing:Otlp:MaxQueueSize", "4"), ("MeshLite:Tracing:Otlp:MaxExportBatchSize", "2")));

        foreach (var sidecar in new[] { up, down, full })
        {
            for (var i = 0; i < 20; i++)
            {
                using var response = await _client.GetAsync($"http://127.0.0.1:{sidecar.InboundPort}/r");
            }
        }

        var bad = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{up.InboundPort}/bad");
        bad.Headers.TryAddWithoutValidation("traceparent", "00-xyz");
        await _client.SendAsync(bad);

        await Poll(up, m => Sum(m, "meshlite_spans_exported_total") >= 21, "spans exported");
        var upMetrics = await PrometheusText.ScrapeAsync(up.MetricsPort);
        Assert.Equal(21, Sum(upMetrics, "meshlite_spans_started_total"));
        Assert.Equal(1, Sum(upMetrics, "meshlite_trace_context_invalid_total", ("format", "w3c")));
        Assert.Equal(21, Sum(upMetrics, "meshlite_trace_decisions_total", ("decision", "sampled"), ("reason", "random")));
        Assert.Equal(0, Sum(upMetrics, "meshlite_spans_dropped_total"));
        Assert.True(Sum(upMetrics, "meshlite_span_export_duration_seconds_count") >= 1);

        await Poll(down, m => Sum(m, "meshlite_spans_dropped_total", ("reason", "export_failed")) >= 20, "export failures counted");
        await Poll(full, m => Sum(m, "meshlite_spans_dropped_total", ("reason", "queue_full")) >= 1 && Sum(m, "meshlite_spans_ended_total") >= 20, "queue-full drops counted");
        var fullMetrics = await PrometheusText.ScrapeAsync(full.MetricsPort);
        Assert.Equal(20, Sum(fullMetrics, "meshlite_spans_ended_total"));
    }

    [Fact]
    public async Task AccessLog_Text_IstioFieldsInOrder_WithFlagsAndTraceIds()
    {
        await using var app = await TestApp.StartEchoAsync("hello");
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("svc", null,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:Services:dead:Endpoints:0", $"http://127.0.0.1:{ProxyTests.FreePort()}")));

        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{sidecar.InboundPort}/hello?x=1");
        request.Headers.TryAddWithoutValidation("x-request-id", "84961386-6d84-929d-98bd-c5aee93b5c88");
        request.Headers.TryAddWithoutValidation("User-Agent", "curl/7.73.0-DEV");
        request.Headers.TryAddWithoutValidation("x-forwarded-for", "10.0.0.1");
        using var response = await _client.SendAsync(request);
        var traceparent = Assert.Single(app.Received)["traceparent"].Split('-');
        using var failed = await CallAsync(sidecar.OutboundPort, "dead", "/pay");

        var line = await WaitForLine(sidecar, "84961386-6d84-929d-98bd-c5aee93b5c88");
        var m = Regex.Match(line, """^\[(?<start>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] "GET /hello\?x=1 HTTP/1\.1" 200 - via_upstream - "-" 0 5 (?<duration>\d+) (?<ust>\d+) "10\.0\.0\.1" "curl/7\.73\.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "127\.0\.0\.1:(?<port>\d+)" "127\.0\.0\.1:(?<app>\d+)" inbound\|(?<cluster>\d+)\|\| - 127\.0\.0\.1:(?<lport>\d+) 127\.0\.0\.1:\d+ - default (?<trace>[0-9a-f]{32}) (?<span>[0-9a-f]{16}) 1$""");
        Assert.True(m.Success, line);
        Assert.Equal(app.Port.ToString(), m.Groups["app"].Value);
        Assert.Equal(app.Port.ToString(), m.Groups["cluster"].Value);
        Assert.Equal(sidecar.InboundPort.ToString(), m.Groups["lport"].Value);
        Assert.Equal(traceparent[1], m.Groups["trace"].Value);
        Assert.Equal(traceparent[2], m.Groups["span"].Value);

        var uf = await WaitForLine(sidecar, "\"GET /pay HTTP/1.1\" 503");
        Assert.Contains(" 503 UF upstream_reset_before_response_started{connection_failure} ", uf);
        Assert.Contains(" outbound|80||dead.default.svc.cluster.local ", uf);
        Assert.EndsWith(" 1", uf);
    }

    [Fact]
    public async Task AccessLog_Json_TypedValuesAndNulls()
    {
        await using var app = await TestApp.StartAsync(context => { context.Response.StatusCode = 418; return Task.CompletedTask; });
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("svc", null,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:AccessLog:Encoding", "JSON")));

        var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{sidecar.InboundPort}/status/418") { Content = new StringContent("12345") };
        request.Headers.TryAddWithoutValidation("x-request-id", "json-line-request");
        using var response = await _client.SendAsync(request);

        var line = await WaitForLine(sidecar, "json-line-request");
        using var json = JsonDocument.Parse(line[line.IndexOf('{')..]);
        var root = json.RootElement;
        Assert.Equal(
            ["start_time", "route_name", "method", "path", "protocol", "response_code", "response_flags", "response_code_details", "connection_termination_details",
             "bytes_received", "bytes_sent", "duration", "upstream_service_time", "x_forwarded_for", "user_agent", "request_id", "authority", "upstream_host",
             "upstream_cluster", "upstream_local_address", "downstream_local_address", "downstream_remote_address", "requested_server_name",
             "upstream_transport_failure_reason", "trace_id", "span_id", "upstream_request_attempt_count"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(418, root.GetProperty("response_code").GetInt32());
        Assert.Equal(5, root.GetProperty("bytes_received").GetInt64());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("duration").ValueKind);
        Assert.Equal(JsonValueKind.String, root.GetProperty("upstream_service_time").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("x_forwarded_for").ValueKind);
        Assert.Equal("POST", root.GetProperty("method").GetString());
        Assert.Equal("/status/418", root.GetProperty("path").GetString());
        Assert.Equal("-", root.GetProperty("response_flags").GetString());
        Assert.Equal($"inbound|{app.Port}||", root.GetProperty("upstream_cluster").GetString());
        Assert.Equal(Assert.Single(app.Received)["traceparent"].Split('-')[1], root.GetProperty("trace_id").GetString());
    }

    [Fact]
    public async Task AccessLog_FloodOnABlockedStdout_NeverBlocksRequests_AndCountsDrops()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("svc", null,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:AccessLog:BufferSize", "64"), ("MeshLite:Tracing:Sampling", "0")), blockedStdout: true);

        for (var i = 0; i < 2000; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await _client.GetAsync($"http://127.0.0.1:{sidecar.InboundPort}/flood/{i}?padding={new string('p', 200)}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3), $"request {i} waited on the log");
        }

        await Poll(sidecar, m => Sum(m, "istio_requests_total") >= 2000, "2000 requests counted");
        var metrics = await PrometheusText.ScrapeAsync(sidecar.MetricsPort);
        Assert.True(Sum(metrics, "meshlite_access_log_dropped_total") > 0);
        Assert.Equal(2000, Sum(metrics, "istio_requests_total"));
    }

    [Fact]
    public async Task ResponseTraceHeader_CarriesTheTraceId_WhenEnabled()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("svc", null,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:Tracing:ResponseTraceHeader", "true"), ("MeshLite:Tracing:Sampling", "0")));

        using var response = await _client.GetAsync($"http://127.0.0.1:{sidecar.InboundPort}/r");

        Assert.Equal(Assert.Single(app.Received)["traceparent"].Split('-')[1], response.Headers.GetValues("x-trace-id").Single());
    }

    private static async Task<string> WaitForLine(SidecarProcess sidecar, string contains)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var line = sidecar.Lines.FirstOrDefault(l => l.Contains(contains, StringComparison.Ordinal) && !l.Contains(" info: ", StringComparison.Ordinal));
            if (line is not null)
            {
                return line;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no access-log line containing '{contains}':\n{sidecar.Output}");
            }

            await Task.Delay(50);
        }
    }

    internal static async Task Poll(SidecarProcess sidecar, Func<List<Sample>, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var metrics = await PrometheusText.ScrapeAsync(sidecar.MetricsPort);
            if (condition(metrics))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(what + ":\n" + string.Join('\n', metrics.Where(m => m.Name.StartsWith("meshlite_", StringComparison.Ordinal))));
            }

            await Task.Delay(100);
        }
    }
}
