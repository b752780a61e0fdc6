using System.Collections.Concurrent;
using System.Text.Json;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>
/// Istio's <c>HTTPRetry</c> on a registry service, 8 callers at a time: retried tries show on the CLIENT span
/// (<c>http.request.resend_count</c>, one <c>retry</c> event each) and in the access line's attempt count, exhausted
/// retries are <c>URX</c>, Istio's built-in conditions retry a dead endpoint but no status, a streamed body is never
/// sent twice, and with no <c>Timeout</c> no timeout applies.
/// </summary>
public class RetryTests
{
    private const int Callers = 8;
    private const string KeyHeader = "x-test-key";

    [Fact]
    public async Task RetriedStatus_UnderConcurrency_SucceedsOnTheThirdTry_WithItsAttemptsOnSpanAndAccessLine()
    {
        var tries = new ConcurrentDictionary<string, int>();
        var attemptHeaders = new ConcurrentQueue<string>();
        await using var backend = await TestApp.StartAsync(context =>
        {
            attemptHeaders.Enqueue(context.Request.Headers["x-envoy-attempt-count"].ToString());
            var n = tries.AddOrUpdate(context.Request.Headers[KeyHeader].ToString(), 1, (_, v) => v + 1);
            context.Response.StatusCode = n <= 2 ? 503 : 200;
            return context.Response.WriteAsync(n <= 2 ? "busy" : "ok");
        });
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:backend:Retries:Attempts"] = "3",
            ["MeshLite:Services:backend:Retries:RetryOn"] = "503",
        });

        var statuses = await harness.SendAsync(Callers * 4);

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.All(tries.Values, n => Assert.Equal(3, n));
        Assert.Equal(Callers * 4 * 3, attemptHeaders.Count);
        Assert.Equal(Callers * 4, attemptHeaders.Count(h => h == "3"));
        var spans = await harness.ClientSpansAsync(Callers * 4);
        Assert.All(spans, span =>
        {
            Assert.Equal("200", span.Tag("http.status_code"));
            Assert.Equal("3", span.Tag("upstream_request_attempt_count"));
            Assert.Equal("2", span.Tag("http.request.resend_count"));
            Assert.Equal(["503", "503"], span.Events.Where(e => e.Name == "retry").Select(e => e.Attributes["retry.reason"]));
        });
        var lines = await harness.AccessLinesAsync(Callers * 4);
        Assert.All(lines, line =>
        {
            Assert.Equal(200, line.GetProperty("response_code").GetInt32());
            Assert.Equal(3, line.GetProperty("upstream_request_attempt_count").GetInt32());
            Assert.Equal("-", line.GetProperty("response_flags").GetString());
        });
        var metrics = await PrometheusText.ScrapeAsync(harness.Sidecar.AdminPort);
        Assert.Equal(Callers * 4 * 2, metrics.Single(m => m.Name == "envoy_cluster_upstream_rq_retry").Value);
        Assert.Equal(Callers * 4, metrics.Single(m => m.Name == "envoy_cluster_upstream_rq_retry_success").Value);
    }

    [Fact]
    public async Task ExhaustedRetries_AnswerTheLastStatus_WithUrx()
    {
        var seen = 0;
        await using var backend = await TestApp.StartAsync(context =>
        {
            Interlocked.Increment(ref seen);
            context.Response.StatusCode = 503;
            return context.Response.WriteAsync("down");
        });
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:backend:Retries:Attempts"] = "2",
            ["MeshLite:Services:backend:Retries:RetryOn"] = "gateway-error",
        });

        var statuses = await harness.SendAsync(Callers * 2);

        Assert.All(statuses, s => Assert.Equal(503, s));
        Assert.Equal(Callers * 2 * 3, Volatile.Read(ref seen));
        Assert.All(await harness.ClientSpansAsync(Callers * 2), span =>
        {
            Assert.Equal("URX", span.Tag("response_flags"));
            Assert.Equal("3", span.Tag("upstream_request_attempt_count"));
        });
        Assert.All(await harness.AccessLinesAsync(Callers * 2), line =>
        {
            Assert.Equal("URX", line.GetProperty("response_flags").GetString());
            Assert.Equal(3, line.GetProperty("upstream_request_attempt_count").GetInt32());
        });
        var metrics = await PrometheusText.ScrapeAsync(harness.Sidecar.AdminPort);
        Assert.Equal(Callers * 2, metrics.Single(m => m.Name == "envoy_cluster_upstream_rq_retry_limit_exceeded").Value);
        Assert.Equal(Callers * 2, metrics.Single(m => m.Name == "istio_requests_total" && m["response_flags"] == "URX" && m["reporter"] == "source").Value);
    }

    [Fact]
    public async Task IstioBuiltInPolicy_RetriesADeadEndpointOnAnother_ButNoStatus()
    {
        var alive = 0;
        await using var backend = await TestApp.StartAsync(context =>
        {
            Interlocked.Increment(ref alive);
            context.Response.StatusCode = context.Request.Path == "/busy" ? 503 : 200;
            return Task.CompletedTask;
        });

        // Retries present with only Attempts: Istio's default conditions, which list no status code.
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:backend:Endpoints:1"] = $"http://127.0.0.1:{ProxyTests.FreePort()}",
            ["MeshLite:Services:backend:Retries:Attempts"] = "2",
        });

        var statuses = await harness.SendAsync(Callers * 4);
        Assert.All(statuses, s => Assert.Equal(200, s));
        var spans = await harness.ClientSpansAsync(Callers * 4);
        Assert.Contains(spans, s => s.Attributes.GetValueOrDefault("upstream_request_attempt_count") == "2"
            && s.Events.Single(e => e.Name == "retry").Attributes["retry.reason"] == "connect-failure");
        Assert.All(spans, s => Assert.False(s.Attributes.ContainsKey("upstream_request_attempt_count") && s.Tag("upstream_request_attempt_count") != "2"));
        Assert.All(spans, s => Assert.Equal("-", s.Tag("response_flags")));

        var busy = await harness.SendAsync(Callers, "/busy");
        Assert.All(busy, s => Assert.Equal(503, s));
        var lines = (await harness.AccessLinesAsync(Callers * 5)).Where(l => l.GetProperty("path").GetString() == "/busy" && l.GetProperty("response_code").GetInt32() == 503).ToList();
        Assert.Equal(Callers, lines.Count);
        Assert.All(lines, l => Assert.Equal("-", l.GetProperty("response_flags").GetString()));
    }

    [Fact]
    public async Task OnlyDeadEndpoints_ExhaustConnectRetries_AsUfUrx()
    {
        await using var harness = await Harness.StartAsync(ProxyTests.FreePort(), new()
        {
            ["MeshLite:Services:backend:Retries:Attempts"] = "2",
        });

        var statuses = await harness.SendAsync(Callers);

        Assert.All(statuses, s => Assert.Equal(503, s));
        Assert.All(await harness.AccessLinesAsync(Callers), line =>
        {
            Assert.Equal("UF,URX", line.GetProperty("response_flags").GetString());
            Assert.Equal(3, line.GetProperty("upstream_request_attempt_count").GetInt32());
        });
    }

    [Fact]
    public async Task StreamedBody_IsNeverReplayed_ButABodyNotYetSentIsRetriedOnAnotherEndpoint()
    {
        var bodies = new ConcurrentQueue<string>();
        await using var backend = await TestApp.StartAsync(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            bodies.Enqueue(await reader.ReadToEndAsync());
            context.Response.StatusCode = context.Request.Path == "/busy" ? 503 : 200;
        });
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:backend:Endpoints:1"] = $"http://127.0.0.1:{ProxyTests.FreePort()}",
            ["MeshLite:Services:backend:Retries:Attempts"] = "2",
            ["MeshLite:Services:backend:Retries:RetryOn"] = "connect-failure,503",
        });

        var busy = await harness.SendAsync(Callers, "/busy", body: "payload");
        Assert.All(busy, s => Assert.Equal(503, s));
        Assert.Equal(Callers, bodies.Count);
        Assert.All(bodies, b => Assert.Equal("payload", b));
        var metrics = await PrometheusText.ScrapeAsync(harness.Sidecar.AdminPort);
        Assert.Equal(Callers, metrics.Single(m => m.Name == "meshlite_upstream_rq_retry_body_sent_total").Value);

        // A try that never connected read none of the body: the next try sends all of it.
        bodies.Clear();
        var ok = await harness.SendAsync(Callers * 2, "/ok", body: "payload");
        Assert.All(ok, s => Assert.Equal(200, s));
        Assert.Equal(Callers * 2, bodies.Count);
        Assert.All(bodies, b => Assert.Equal("payload", b));
    }

    [Fact]
    public async Task AttemptsZero_SendsOnce()
    {
        var seen = 0;
        await using var backend = await TestApp.StartAsync(context =>
        {
            Interlocked.Increment(ref seen);
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        });
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:backend:Retries:Attempts"] = "0",
        });

        var statuses = await harness.SendAsync(Callers);

        Assert.All(statuses, s => Assert.Equal(503, s));
        Assert.Equal(Callers, Volatile.Read(ref seen));
        Assert.All(await harness.AccessLinesAsync(Callers), line => Assert.Equal(1, line.GetProperty("upstream_request_attempt_count").GetInt32()));
    }

    [Fact]
    public async Task PerTryTimeout_RetriesASlowTry_AndTheRouteTimeoutBoundsThemAll()
    {
        var tries = new ConcurrentDictionary<string, int>();
        await using var backend = await TestApp.StartAsync(async context =>
        {
            var n = tries.AddOrUpdate(context.Request.Headers[KeyHeader].ToString(), 1, (_, v) => v + 1);
            if (n == 1 || context.Request.Path == "/always-slow")
            {
                await Task.Delay(TimeSpan.FromSeconds(3), context.RequestAborted);
            }

            await context.Response.WriteAsync("ok");
        });
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:backend:Timeout"] = "00:00:01.500",
            ["MeshLite:Services:backend:Retries:Attempts"] = "5",
            ["MeshLite:Services:backend:Retries:PerTryTimeout"] = "00:00:00.300",
            ["MeshLite:Services:backend:Retries:RetryOn"] = "reset",
        });

        var statuses = await harness.SendAsync(Callers);
        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.All(await harness.ClientSpansAsync(Callers), span =>
            Assert.Equal("per-try-timeout", span.Events.Single(e => e.Name == "retry").Attributes["retry.reason"]));

        // Every try is slow: the route timeout (1.5 s) ends the request after about five 300 ms tries, as 504 UT.
        var started = DateTime.UtcNow;
        var slow = await harness.SendAsync(1, "/always-slow");
        Assert.Equal(504, Assert.Single(slow));
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(2.9));
        var line = (await harness.AccessLinesAsync(Callers + 1)).Single(l => l.GetProperty("path").GetString() == "/always-slow");
        Assert.Equal("UT", line.GetProperty("response_flags").GetString());
    }

    [Fact]
    public async Task NoTimeoutConfigured_MeansNone_NotYarpsHundredSeconds()
    {
        await using var backend = await TestApp.StartEchoAsync();
        await using var harness = await Harness.StartAsync(backend.Port, new()
        {
            ["MeshLite:Services:timed:Endpoints:0"] = $"http://127.0.0.1:{backend.Port}",
            ["MeshLite:Services:timed:Timeout"] = "00:00:02",
        });

        using var admin = new HttpClient();
        using var clusters = JsonDocument.Parse(await admin.GetStringAsync(harness.Sidecar.AdminAddress + "/clusters"));
        var timeouts = clusters.RootElement.GetProperty("clusters").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("timeout").GetString());
        Assert.Equal("00:00:02", timeouts["outbound|80||timed.default.svc.cluster.local"]);
        Assert.Equal("none", timeouts["outbound|80||backend.default.svc.cluster.local"]);
        Assert.Equal("none", timeouts["inbound|1||"]);
        Assert.Equal("none", timeouts["PassthroughCluster"]);
    }

    /// <summary>A sidecar whose registry service <c>backend</c> is the given port, exporting to a receiver and logging JSON lines.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null, MaxConnectionsPerServer = Callers })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };

        private Harness(InProcessSidecar sidecar, OtlpReceiver receiver, string accessLog)
        {
            Sidecar = sidecar;
            Receiver = receiver;
            AccessLog = accessLog;
        }

        public InProcessSidecar Sidecar { get; }
        public OtlpReceiver Receiver { get; }
        public string AccessLog { get; }

        public static async Task<Harness> StartAsync(int backendPort, Dictionary<string, string?> config)
        {
            var receiver = await OtlpReceiver.StartAsync();
            var accessLog = InProcessSidecar.NewAccessLogPath();
            config["MeshLite:Services:backend:Endpoints:0"] = $"http://127.0.0.1:{backendPort}";
            config["MeshLite:Tracing:Sampling"] = "100";
            config["MeshLite:Tracing:Otlp:Endpoint"] = receiver.GrpcEndpoint;
            config["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "50";
            config["MeshLite:AccessLog:Enabled"] = "true";
            config["MeshLite:AccessLog:Encoding"] = "JSON";
            config["MeshLite:AccessLog:Path"] = accessLog;
            var sidecar = await InProcessSidecar.StartAsync("client", 1, config);
            return new Harness(sidecar, receiver, accessLog);
        }

        /// <summary>Sends <paramref name="count"/> requests to <c>backend</c>, <see cref="Callers"/> at a time, each with its own key.</summary>
        public async Task<int[]> SendAsync(int count, string path = "/", string? body = null)
        {
            var statuses = new int[count];
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Callers }, async (i, token) =>
            {
                using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, Sidecar.OutboundAddress + path)
                {
                    Headers = { Host = "backend" },
                    Content = body is null ? null : new StringContent(body),
                };
                request.Headers.Add(KeyHeader, Guid.NewGuid().ToString("N"));
                using var response = await _client.SendAsync(request, token);
                statuses[i] = (int)response.StatusCode;
            });
            return statuses;
        }

        public async Task<IReadOnlyList<ReceivedSpan>> ClientSpansAsync(int count) =>
            [.. (await Receiver.WaitForAsync(s => s.Count(x => x.Kind == ReceivedSpan.Client) >= count, what: $"{count} CLIENT spans")).Where(s => s.Kind == ReceivedSpan.Client)];

        public async Task<IReadOnlyList<JsonElement>> AccessLinesAsync(int count)
        {
            var lines = await InProcessSidecar.WaitForAccessLinesAsync(AccessLog, count);
            Assert.True(lines.Length >= count, $"expected {count} access lines, got {lines.Length}");
            return [.. lines.Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            await Sidecar.DisposeAsync();
            await Receiver.DisposeAsync();
        }
    }
}
