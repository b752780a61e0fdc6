using System.Diagnostics;
using System.Net;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

/// <summary>
/// The collector fails while traffic flows: requests never wait for it, a transient failure is retried within the
/// export timeout instead of dropping the batch, whatever is still lost is counted with its reason
/// (ended = exported + dropped), memory stays bounded by the queue, and export resumes by itself.
/// </summary>
public class CollectorFaultTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    /// <summary>No request may wait on the collector: a bound far below every export timeout used here.</summary>
    private static readonly TimeSpan _requestBound = TimeSpan.FromSeconds(1);

    private static Dictionary<string, string?> ExportTo(string endpoint, int timeoutMs, params (string Key, string Value)[] extra)
    {
        var config = new Dictionary<string, string?>
        {
            ["MeshLite:Tracing:Sampling"] = "100",
            ["MeshLite:Tracing:Otlp:Endpoint"] = endpoint,
            ["MeshLite:Tracing:Otlp:Protocol"] = "http/protobuf",
            ["MeshLite:Tracing:Otlp:TimeoutMilliseconds"] = timeoutMs.ToString(),
            ["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "50",
        };
        foreach (var (k, v) in extra)
        {
            config[k] = v;
        }

        return config;
    }

    [Theory]
    [InlineData(CollectorFault.Status503RetryAfter)]
    [InlineData(CollectorFault.Status429RetryAfter)]
    [InlineData(CollectorFault.CloseWithoutResponse)]
    public async Task TransientCollectorFailures_AreRetried_NoSpanIsLost_AndRequestsDoNotWait(CollectorFault fault)
    {
        // The first two export attempts fail; every answer is HTTP/1.0 with the connection closed after it.
        await using var collector = await FaultyCollector.StartAsync(n => n < 2 ? fault : CollectorFault.None);
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, ExportTo(collector.Endpoint, timeoutMs: 8000));

        await SendBoundedAsync(sidecar, 40);

        await collector.Receiver.WaitForAsync(s => s.Count >= 40, TimeSpan.FromSeconds(20), "all 40 spans, after the retries");
        var health = await HealthAsync(sidecar, expectEnded: 40);
        Assert.Equal((40, 40, 0), (health.Ended, health.Exported, health.Dropped));
        Assert.True(collector.Requests >= 3, $"the collector saw {collector.Requests} export requests; the faults did not happen");
        Assert.Equal(40, collector.Receiver.Spans.Count);
    }

    [Fact]
    public async Task CollectorRefusingConnections_ThenComingUp_ReceivesEverySpan()
    {
        var port = ProxyTests.FreePort();
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, ExportTo($"http://127.0.0.1:{port}/v1/traces", timeoutMs: 10000));

        await SendBoundedAsync(sidecar, 20);

        // The collector is down for a while (connections refused), then starts on the address the sidecar uses.
        await Task.Delay(TimeSpan.FromMilliseconds(1500));
        await using var collector = await FaultyCollector.StartAsync(_ => CollectorFault.None, port);

        await collector.Receiver.WaitForAsync(s => s.Count >= 20, TimeSpan.FromSeconds(20), "the 20 spans ended while the collector was down");
        var health = await HealthAsync(sidecar, expectEnded: 20);
        Assert.Equal((20, 20, 0), (health.Ended, health.Exported, health.Dropped));
    }

    [Fact]
    public async Task CollectorHanging_DropsOnlyWhatTimedOutOrOverflowed_CountsEachByReason_StaysBounded_AndResumes()
    {
        // Every request hangs until the collector is told to answer again.
        var hanging = true;
        await using var collector = await FaultyCollector.StartAsync(_ => Volatile.Read(ref hanging) ? CollectorFault.Hang : CollectorFault.None);
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port, ExportTo(collector.Endpoint, timeoutMs: 1500,
            ("MeshLite:Tracing:Otlp:MaxQueueSize", "64"), ("MeshLite:Tracing:Otlp:MaxExportBatchSize", "16")));

        await SendBoundedAsync(sidecar, 300);
        var during = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        Assert.InRange(during.Single(m => m.Name == "meshlite_span_export_queue_length").Value, 0, 64);

        Volatile.Write(ref hanging, false);
        await SendBoundedAsync(sidecar, 20);

        var health = await HealthAsync(sidecar, expectEnded: 320);
        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        double Dropped(string reason) => metrics.Single(m => m.Name == "meshlite_spans_dropped_total" && m["reason"] == reason).Value;
        Assert.True(Dropped("queue_full") > 0, "300 spans into a 64-span queue behind a hung collector must overflow");
        Assert.True(Dropped("export_failed") > 0, "a batch that timed out must be counted");
        Assert.Equal(health.Ended, health.Exported + health.Dropped);
        await collector.Receiver.WaitForAsync(s => s.Count >= health.Exported && s.Count >= 20, TimeSpan.FromSeconds(20), "the spans after the collector recovered");
        Assert.Equal(health.Exported, collector.Receiver.Spans.Count);
    }

    private static async Task SendBoundedAsync(InProcessSidecar sidecar, int count)
    {
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, token) =>
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await _client.GetAsync($"{sidecar.InboundAddress}/r/{i}", token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var elapsed = Stopwatch.GetElapsedTime(started);
            Assert.True(elapsed < _requestBound, $"request {i} took {elapsed.TotalMilliseconds:F0} ms while the collector misbehaved");
        });
    }

    private static async Task<(int Ended, int Exported, int Dropped)> HealthAsync(InProcessSidecar sidecar, int expectEnded)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
            var ended = (int)metrics.Single(m => m.Name == "meshlite_spans_ended_total").Value;
            var exported = (int)metrics.Single(m => m.Name == "meshlite_spans_exported_total").Value;
            var dropped = (int)metrics.Where(m => m.Name == "meshlite_spans_dropped_total").Sum(m => m.Value);
            if ((ended >= expectEnded && ended == exported + dropped) || DateTime.UtcNow > deadline)
            {
                return (ended, exported, dropped);
            }

            await Task.Delay(50);
        }
    }
}
