using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite load</c>: sends N requests, or a rate for a duration, to one URL on this machine, with a progress bar
/// and a closing summary (count, rate, p50/p90/p99, status codes). Loopback only, always bounded.
/// </summary>
internal static class LoadGenerator
{
    private const int MaxRequests = 1_000_000;

    public static Command Create(TextWriter output, TextWriter progress)
    {
        var url = CommandLine.Url("--url", "Where to send GET requests; loopback only.");
        url.Required = true;
        url.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<Uri?>() is { } uri && !IsLoopback(uri))
            {
                result.AddError($"--url: '{uri.Host}' is not this machine; the generator only sends to loopback addresses.");
            }
        });
        var count = CommandLine.Whole("-n", 100, 1, MaxRequests, "How many requests (unless --rate is given).");
        var rate = CommandLine.Number("--rate", 0, 0, 100_000, "Requests per second, for --duration (0: as fast as --concurrency allows, for -n requests).");
        var duration = CommandLine.Duration("--duration", TimeSpan.FromSeconds(10), "How long to send at --rate.");
        var concurrency = CommandLine.Whole("--concurrency", 4, 1, 256, "Requests in flight at once.");
        var headers = new Option<string[]>("--header") { Description = "A request header, name:value; repeatable.", HelpName = "name:value" };
        headers.Validators.Add(result =>
        {
            foreach (var header in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (header.Split(':', 2) is not [{ Length: > 0 }, _])
                {
                    result.AddError($"--header '{header}' is not name:value.");
                }
            }
        });
        var command = new Command("load", "Send a bounded load to one URL on this machine, with a progress bar and a summary (rate, p50/p90/p99, status codes).")
        {
            url, count, rate, duration, concurrency, headers,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var perSecond = result.GetValue(rate);
            var total = perSecond > 0 ? (int)Math.Min(MaxRequests, Math.Ceiling(perSecond * result.GetValue(duration).TotalSeconds)) : result.GetValue(count);
            var pairs = (result.GetValue(headers) ?? []).Select(h => h.Split(':', 2)).Select(h => (h[0].Trim(), h[1].Trim())).ToList();
            return RunAsync(result.GetRequiredValue(url), total, perSecond, result.GetValue(concurrency), pairs, output, progress, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(Uri uri, int total, double rate, int concurrency, List<(string, string)> headers, TextWriter output, TextWriter progress,
        CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null, MaxConnectionsPerServer = concurrency })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var latencies = new double[total];
        var statuses = new int[total];
        var next = -1;
        var done = 0;
        var started = Stopwatch.GetTimestamp();
        using var bar = new Timer(_ => Draw(progress, Volatile.Read(ref done), total), null, 0, 200);

        async Task Worker()
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= total)
                {
                    return;
                }

                if (rate > 0)
                {
                    var due = TimeSpan.FromSeconds(i / rate) - Stopwatch.GetElapsedTime(started);
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, cancellationToken);
                    }
                }

                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                foreach (var (name, value) in headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }

                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.SendAsync(request, cancellationToken);
                    await response.Content.CopyToAsync(Stream.Null, cancellationToken);
                    statuses[i] = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    statuses[i] = 0;
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    statuses[i] = 0;
                }

                latencies[i] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                Interlocked.Increment(ref done);
            }
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Worker()));
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: summarise what was sent.
        }

        var elapsed = Stopwatch.GetElapsedTime(started);

        // The bar's timer must be done before its last frame: a late tick would draw over the summary's line.
        await bar.DisposeAsync();
        Draw(progress, done, total);
        await progress.WriteLineAsync();
        var completed = Math.Min(done, total);
        var sorted = latencies[..completed].Order().ToArray();
        double Percentile(double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
        var c = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(c, $"requests: {completed}  rate: {completed / Math.Max(elapsed.TotalSeconds, 1e-9):F1}/s  p50: {Percentile(50):F1} ms  p90: {Percentile(90):F1} ms  p99: {Percentile(99):F1} ms"));
        await output.WriteLineAsync("status codes: " + string.Join("  ", statuses[..completed].GroupBy(s => s).OrderBy(g => g.Key)
            .Select(g => string.Create(c, $"{(g.Key == 0 ? "error" : g.Key.ToString(c))}: {g.Count()}"))));
        return 0;
    }

    internal static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static void Draw(TextWriter progress, int done, int total)
    {
        const int Width = 40;
        var filled = total == 0 ? Width : done * Width / total;
        progress.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', Width - filled)}] {done}/{total}"));
    }
}
