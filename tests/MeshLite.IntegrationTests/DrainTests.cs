using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>
/// SIGTERM to a sidecar process while 8 connections send requests, each step timed from the signal: readiness turns
/// 503 at once, requests keep being served (each HTTP/1 connection closed after its response) for the drain period,
/// requests still in flight when the listeners close complete, and every span and access line of a served request
/// is flushed before the process exits 0.
/// </summary>
public class DrainTests(ITestOutputHelper output)
{
    private const int Connections = 8;
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SlowRequest = TimeSpan.FromSeconds(1.5);

    [Fact]
    public async Task Sigterm_DuringTraffic_DrainsThenFinishesInFlight_AndFlushesEverySpanAndLine()
    {
        var served = 0;
        await using var app = await TestApp.StartAsync(async context =>
        {
            if (context.Request.Path == "/slow")
            {
                await Task.Delay(SlowRequest);
            }

            Interlocked.Increment(ref served);
            await context.Response.WriteAsync("ok");
        });
        await using var receiver = await OtlpReceiver.StartAsync();
        var accessLog = InProcessSidecar.NewAccessLogPath();
        var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("svc", receiver,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()),
            ("MeshLite:TerminationDrainDuration", "00:00:02"),
            ("MeshLite:AccessLog:Path", accessLog),
            ("MeshLite:AccessLog:Encoding", "JSON"),
            ("MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds", "5000")));
        await using var _ = sidecar;

        var clock = new Stopwatch();
        var ok = 0;
        var okAfterSignal = 0;
        var afterSignal = new ConcurrentQueue<(TimeSpan SentAt, bool Closed)>();
        var failures = new ConcurrentQueue<string>();
        var refusedAt = new ConcurrentQueue<double>();
        using var stopLoad = new CancellationTokenSource();

        async Task SendAsync(HttpClient client, string path, bool untilRefused)
        {
            do
            {
                var sentAt = clock.Elapsed;
                try
                {
                    using var response = await client.GetAsync($"http://127.0.0.1:{sidecar.InboundPort}{path}");
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    Interlocked.Increment(ref ok);
                    if (clock.IsRunning)
                    {
                        Interlocked.Increment(ref okAfterSignal);
                        afterSignal.Enqueue((sentAt, response.Headers.ConnectionClose == true));
                    }
                }
                catch (HttpRequestException ex)
                {
                    // Once the listeners have closed, a new connection is refused: that is the end of this caller.
                    if (clock.IsRunning && sentAt >= Drain - TimeSpan.FromMilliseconds(100))
                    {
                        refusedAt.Enqueue(sentAt.TotalSeconds);
                        return;
                    }

                    failures.Enqueue($"{path} at {sentAt.TotalSeconds:0.000} s: {ex.Message}");
                    return;
                }
            }
            while (untilRefused && !stopLoad.IsCancellationRequested);
        }

        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null }) { Timeout = TimeSpan.FromSeconds(30) };
        var load = Enumerable.Range(0, Connections).Select(_ => Task.Run(() => SendAsync(client, "/fast", untilRefused: true))).ToList();
        await Eventually.Until(() => Volatile.Read(ref ok) >= 200, "traffic before the signal");

        await sidecar.SendSigtermAsync();
        clock.Start();
        using var admin = new HttpClient();
        while ((await admin.GetAsync($"http://127.0.0.1:{sidecar.AdminPort}/healthz/ready")).StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), "readiness still 200 a second after SIGTERM");
        }

        var notReadyAfter = clock.Elapsed;

        // Requests that will still be in flight when the drain period ends and the listeners close.
        await Eventually.Until(() => clock.Elapsed >= Drain - TimeSpan.FromMilliseconds(400), "the end of the drain period");
        using var slowClient = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
        var slow = Enumerable.Range(0, 4).Select(_ => SendAsync(slowClient, "/slow", untilRefused: false)).ToList();
        await Task.WhenAll(slow);
        var slowDoneAfter = clock.Elapsed;

        var exitCode = await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var exitedAfter = clock.Elapsed;
        await stopLoad.CancelAsync();
        await Task.WhenAll(load);

        output.WriteLine($"readiness 503 after {notReadyAfter.TotalMilliseconds:0} ms; first refused connection at {(refusedAt.IsEmpty ? double.NaN : refusedAt.Min()):0.000} s; " +
            $"slow requests done at {slowDoneAfter.TotalSeconds:0.000} s; exit at {exitedAfter.TotalSeconds:0.000} s; {okAfterSignal} requests served after the signal, " +
            $"{afterSignal.Count(r => r.Closed)} with Connection: close");
        Assert.True(failures.IsEmpty, string.Join("\n", failures));
        Assert.Equal(0, exitCode);
        Assert.True(notReadyAfter < TimeSpan.FromMilliseconds(500), $"readiness turned 503 only after {notReadyAfter.TotalMilliseconds} ms");
        Assert.True(okAfterSignal > 50, $"only {okAfterSignal} requests were served during the drain period");
        // Every request sent once readiness said DRAINING was answered with Connection: close.
        Assert.All(afterSignal.Where(r => r.SentAt > notReadyAfter), r => Assert.True(r.Closed, $"no Connection: close at {r.SentAt}"));
        Assert.All(refusedAt, at => Assert.True(at >= Drain.TotalSeconds - 0.1, $"a connection was refused at {at} s, before the drain period ended"));
        Assert.True(slowDoneAfter >= Drain + SlowRequest - TimeSpan.FromMilliseconds(500), $"the slow requests ended at {slowDoneAfter}");
        Assert.True(exitedAfter >= slowDoneAfter && exitedAfter < slowDoneAfter + TimeSpan.FromSeconds(5), $"exited at {exitedAfter}");

        // Everything a served request produced left the process before it exited.
        Assert.Equal(Volatile.Read(ref ok), Volatile.Read(ref served));
        var lines = (await File.ReadAllLinesAsync(accessLog)).Where(l => l.Length > 0).ToList();
        Assert.Equal(served, lines.Count);
        Assert.All(lines, l => Assert.Equal(200, JsonDocument.Parse(l).RootElement.GetProperty("response_code").GetInt32()));
        var spans = receiver.Spans.Where(s => s.Kind == ReceivedSpan.Server).ToList();
        Assert.Equal(served, spans.Count);
        Assert.Equal(4, spans.Count(s => s.Tag("http.url").EndsWith("/slow", StringComparison.Ordinal)));
        Assert.Contains(sidecar.Lines, l => l.Contains("Drained:", StringComparison.Ordinal) && l.Contains("spans flushed: True", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DrainListeners_TurnsReadinessOff_WhileRequestsAreStillServed_WithConnectionClose()
    {
        await using var app = await TestApp.StartEchoAsync();
        await using var sidecar = await InProcessSidecar.StartAsync("svc", app.Port);
        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(sidecar.AdminAddress + "/healthz/ready")).StatusCode);

        using var drain = await client.PostAsync(sidecar.AdminAddress + "/drain_listeners", null);
        Assert.Equal(HttpStatusCode.OK, drain.StatusCode);

        var ready = await client.GetAsync(sidecar.AdminAddress + "/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("DRAINING\n", await ready.Content.ReadAsStringAsync());
        using var served = await client.GetAsync(sidecar.InboundAddress + "/");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.True(served.Headers.ConnectionClose);
    }
}
