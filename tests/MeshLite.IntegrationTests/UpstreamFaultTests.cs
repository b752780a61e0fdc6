using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

/// <summary>
/// An app that fails in every way a socket can, 64 connections at a time: each request gets Envoy's status and
/// response flag, the same on its span, its metric and its access line, and the sidecar stays ready.
/// </summary>
public class UpstreamFaultTests
{
    private const int Concurrency = 64;
    private const int HugeBytes = 10 * 1024 * 1024;

    /// <summary>Path → (status the caller records, flag), as Envoy reports them.</summary>
    private static readonly Dictionary<string, (int Status, string Flag)> _expected = new()
    {
        ["/ok"] = (200, "-"),
        ["/reset-before-headers"] = (503, "UC"),
        ["/half-closed"] = (503, "UC"),
        ["/reset-after-headers"] = (200, "UC"),
        ["/slow-headers"] = (504, "UT"),
        ["/huge"] = (200, "-"),
    };

    [Fact]
    public async Task EveryUpstreamFailure_UnderConcurrency_GetsEnvoysStatusAndFlag_OnSpanMetricAndAccessLine()
    {
        await using var upstream = await MisbehavingApp.StartAsync();
        await using var receiver = await OtlpReceiver.StartAsync();
        var accessLog = InProcessSidecar.NewAccessLogPath();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", upstream.Port, new Dictionary<string, string?>
        {
            ["MeshLite:Inbound:Timeout"] = "00:00:01",
            ["MeshLite:Tracing:Sampling"] = "100",
            ["MeshLite:Tracing:Otlp:Endpoint"] = receiver.GrpcEndpoint,
            ["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "50",
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = accessLog,
        });

        var paths = Enumerable.Range(0, Concurrency * 3).Select(i => _expected.Keys.ElementAt(i % _expected.Count)).ToList();
        var seen = new ConcurrentBag<(string Path, int Status, long Bytes)>();
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null, MaxConnectionsPerServer = Concurrency })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (path, token) =>
        {
            try
            {
                using var response = await client.GetAsync(sidecar.InboundAddress + path, HttpCompletionOption.ResponseHeadersRead, token);
                var bytes = 0L;
                try
                {
                    await using var body = await response.Content.ReadAsStreamAsync(token);
                    var buffer = new byte[64 * 1024];
                    int read;
                    while ((read = await body.ReadAsync(buffer, token)) > 0)
                    {
                        bytes += read;
                    }
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    bytes = -1; // cut short, as the upstream did
                }

                seen.Add((path, (int)response.StatusCode, bytes));
            }
            catch (HttpRequestException)
            {
                seen.Add((path, 0, -1));
            }
        });

        // What the caller saw.
        foreach (var (path, status, bytes) in seen)
        {
            // After headers, the sidecar resets the client's connection; a reset can overtake the buffered head.
            var acceptable = path == "/reset-after-headers" ? [200, 0] : new[] { _expected[path].Status };
            Assert.True(acceptable.Contains(status), $"{path}: the caller saw {status}");
            if (path == "/huge")
            {
                Assert.Equal(HugeBytes, bytes);
            }
            else if (path == "/reset-after-headers")
            {
                Assert.Equal(-1, bytes);
            }
        }

        // What the sidecar recorded, on each of its three outputs.
        var spans = await receiver.WaitForAsync(s => s.Count >= paths.Count, TimeSpan.FromSeconds(20), $"{paths.Count} spans");
        var lines = await InProcessSidecar.WaitForAccessLinesAsync(accessLog, paths.Count);
        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        foreach (var (path, (status, flag)) in _expected)
        {
            var count = paths.Count(p => p == path);
            var pathSpans = spans.Where(s => s.Tag("http.url").EndsWith(path, StringComparison.Ordinal)).ToList();
            Assert.Equal(count, pathSpans.Count);
            Assert.All(pathSpans, s => Assert.Equal((status.ToString(), flag), (s.Tag("http.status_code"), s.Tag("response_flags"))));
            Assert.Equal(count, lines.Count(l => l.Contains($"\"GET {path} HTTP/1.1\" {status} {flag} ", StringComparison.Ordinal)));
        }

        // Metrics carry no path: each (code, flag) series counts every path that ends that way.
        foreach (var outcome in _expected.Values.Distinct())
        {
            var expected = paths.Count(p => _expected[p] == outcome);
            var recorded = metrics.Where(m => m.Name == "istio_requests_total" && m["response_code"] == outcome.Status.ToString() && m["response_flags"] == outcome.Flag).Sum(m => m.Value);
            Assert.Equal(expected, recorded);
        }

        Assert.Contains(spans, s => s.Tag("response_size") == HugeBytes.ToString());
        using var ready = await new HttpClient().GetAsync($"{sidecar.AdminAddress}/healthz/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task AppRefusingConnections_UnderConcurrency_Is503UF_AndTheSidecarStaysReady()
    {
        var closed = ProxyTests.FreePort();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", closed);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = Concurrency });

        var statuses = new ConcurrentBag<HttpStatusCode>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Concurrency * 2), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, token) =>
        {
            using var response = await client.GetAsync($"{sidecar.InboundAddress}/refused/{i}", token);
            statuses.Add(response.StatusCode);
        });

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s));
        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        Assert.Equal(Concurrency * 2, metrics.Single(m => m.Name == "istio_requests_total" && m["response_flags"] == "UF").Value);
        using var ready = await client.GetAsync($"{sidecar.AdminAddress}/healthz/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    /// <summary>An HTTP/1.1 app on a raw socket whose behaviour is chosen by the request path.</summary>
    private sealed class MisbehavingApp : RawTcpServer
    {
        public static Task<MisbehavingApp> StartAsync() => Task.FromResult(new MisbehavingApp());

        protected override async Task ServeAsync(Socket socket)
        {
            while (await ReadRequestLineAsync(socket) is { } path)
            {
                switch (path)
                {
                    case "/ok":
                        await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
                        continue;
                    case "/reset-before-headers":
                        socket.LingerState = new LingerOption(true, 0);
                        return;
                    case "/half-closed":
                        socket.Shutdown(SocketShutdown.Send);
                        await Task.Delay(TimeSpan.FromSeconds(5), Stopping.Token);
                        return;
                    case "/reset-after-headers":
                        await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial"u8.ToArray());
                        await Task.Delay(50, Stopping.Token);
                        socket.LingerState = new LingerOption(true, 0);
                        return;
                    case "/slow-headers":
                        await Task.Delay(TimeSpan.FromSeconds(5), Stopping.Token);
                        return;
                    case "/huge":
                        await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {HugeBytes}\r\n\r\n"));
                        var block = new byte[64 * 1024];
                        for (var sent = 0; sent < HugeBytes; sent += block.Length)
                        {
                            await socket.SendAsync(block.AsMemory(0, Math.Min(block.Length, HugeBytes - sent)));
                        }

                        continue;
                    default:
                        return;
                }
            }
        }

        /// <summary>Reads one request head (requests here carry no body) and returns its path, or null at the end.</summary>
        private static async Task<string?> ReadRequestLineAsync(Socket socket)
        {
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await socket.ReceiveAsync(one) == 0)
                {
                    return null;
                }

                head.Append((char)one[0]);
            }

            return head.ToString().Split(' ')[1];
        }
    }
}
