using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

/// <summary>
/// The local mesh end to end: `meshlite mesh` brings up the checkout flow from its file with the Aspire Dashboard,
/// `meshlite load` sends traffic, and the dashboard's API (and its page, in headless Chromium) shows the failed
/// requests' traces, kept whole at the file's 1 % sampling.
/// </summary>
public class MeshTests
{
    private static readonly string[] _checkout = ["frontend", "api-gateway", "payment", "bank-api", "inventory"];

    private sealed record Span(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, double DurationMs, Dictionary<string, string> Tags);

    private static async Task<(int ExitCode, string Output)> RunMeshLiteAsync(params string[] args) =>
        await Repository.RunAsync("dotnet", new[] { Path.Combine(AppContext.BaseDirectory, "MeshLite.dll") }.Concat(args), TimeSpan.FromMinutes(2));

    private static List<Span> ParseSpans(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement.TryGetProperty("data", out var data) ? data : doc.RootElement;
        var spans = new List<Span>();
        foreach (var resourceSpans in root.GetProperty("resourceSpans").EnumerateArray())
        {
            var service = "";
            if (resourceSpans.TryGetProperty("resource", out var resource) && resource.TryGetProperty("attributes", out var attributes))
            {
                service = attributes.EnumerateArray().Where(a => a.GetProperty("key").GetString() == "service.name")
                    .Select(a => a.GetProperty("value").GetProperty("stringValue").GetString()!).FirstOrDefault() ?? "";
            }

            foreach (var scope in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                {
                    var tags = span.GetProperty("attributes").EnumerateArray().ToDictionary(
                        a => a.GetProperty("key").GetString()!,
                        a => a.GetProperty("value").EnumerateObject().First().Value.ToString());
                    var start = long.Parse(span.GetProperty("startTimeUnixNano").GetString()!);
                    var end = long.Parse(span.GetProperty("endTimeUnixNano").GetString()!);
                    spans.Add(new Span(service, span.GetProperty("traceId").GetString()!, span.GetProperty("spanId").GetString()!,
                        span.TryGetProperty("parentSpanId", out var parent) ? parent.GetString() ?? "" : "", span.GetProperty("name").GetString()!,
                        span.GetProperty("kind").GetInt32(), (end - start) / 1e6, tags));
                }
            }
        }

        return spans;
    }

    [Fact]
    public async Task DefaultMesh_FromItsFile_At1Percent_ShowsEveryFailedCheckoutKeptWholeInTheAspireDashboard_AndStopsCleanly()
    {
        // The default mesh, with bank-api failing often enough that 30 requests surely include a failure.
        var meshFile = Path.Combine(Path.GetTempPath(), $"mesh-{Guid.NewGuid():N}.json");
        var text = File.ReadAllText(Path.Combine(Repository.Root, "config", "mesh", "checkout.json")).Replace("\"errorRate\": 0.05", "\"errorRate\": 0.3", StringComparison.Ordinal);
        Assert.Contains("\"errorRate\": 0.3", text);
        File.WriteAllText(meshFile, text);

        await using var mesh = await SidecarProcess.StartMeshAsync(meshFile);
        var entry = mesh.Match(@"Entry: (\S+)");
        var dashboard = mesh.Match(@"Dashboard: (\S+)");

        var (exitCode, summary) = await RunMeshLiteAsync("load", "--url", entry, "-n", "30", "--concurrency", "3");
        Assert.Equal(0, exitCode);
        Assert.Matches(@"requests: 30 ", summary);
        Assert.Matches(@"status codes: 200: \d+", summary);

        // At the file's 1 % sampling, each request bank-api failed is kept whole along its path — frontend SERVER →
        // CLIENT → api-gateway SERVER → CLIENT → payment SERVER → CLIENT → bank-api SERVER — and the successful
        // parallel inventory branch of the same request is not exported.
        string[] path = ["frontend", "api-gateway", "payment", "bank-api"];
        using var client = new HttpClient();
        List<Span> spans = [];
        List<IGrouping<string, Span>> kept = [];
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            spans = ParseSpans(await client.GetStringAsync($"{dashboard}/api/telemetry/traces?limit=200"));
            kept = spans.GroupBy(s => s.TraceId)
                .Where(g => g.Count() == 7 && g.All(s => s.Tags.GetValueOrDefault("meshlite.sampling.reason")?.StartsWith("kept_", StringComparison.Ordinal) == true))
                .ToList();
            if (kept.Count >= 3)
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.True(kept.Count >= 3, $"only {kept.Count} kept traces among {spans.Count} spans");
        foreach (var failed in kept)
        {
            var trace = failed.ToList();
            Assert.Equal(path.Select(s => s + ".default").Order(), trace.Select(s => s.Service).Distinct().Order());
            Assert.DoesNotContain(trace, s => s.Service == "inventory.default" || s.Name.StartsWith("inventory.", StringComparison.Ordinal));

            var root = Assert.Single(trace, s => s.ParentSpanId == "");
            Assert.Equal(("frontend.default", 2), (root.Service, root.Kind));
            Span ServerUnder(Span server, string service)
            {
                var call = Assert.Single(trace, s => s.ParentSpanId == server.SpanId && s.Kind == 3 && s.Name.StartsWith(service + ".", StringComparison.Ordinal));
                return Assert.Single(trace, s => s.ParentSpanId == call.SpanId && s.Kind == 2 && s.Service == service + ".default");
            }

            var gateway = ServerUnder(root, "api-gateway");
            var payment = ServerUnder(gateway, "payment");
            var bank = ServerUnder(payment, "bank-api");

            // Failing where the file says: bank-api's app answers 503 after its ~200 ms, and the callers wait for it.
            Assert.Equal(("503", "true", "kept_error"), (bank.Tags["http.status_code"], bank.Tags["error"], bank.Tags["meshlite.sampling.reason"]));
            Assert.InRange(bank.DurationMs, 195, 5000);
            Assert.True(payment.DurationMs >= bank.DurationMs);
        }

        if (RequiredTools.Chromium is null)
        {
            // Everything above ran; only the rendered page needs a browser. The mesh still has to stop cleanly.
            await StopsCleanlyAsync(mesh);
            Assert.Skip(RequiredTools.SkipReason("Chromium", "chromium") + " The mesh, its traces and the dashboard API were checked; the rendered page was not.");
        }

        // The dashboard's own trace page, rendered in headless Chromium, names every service of the trace.
        var names = _checkout.Select(s => s + ".default").ToList();
        names.Remove("inventory.default");
        var page = await HeadlessChromium.RenderedTextAsync($"{dashboard}/traces/detail/{kept[0].Key}", names, TimeSpan.FromSeconds(60));
        foreach (var name in names)
        {
            Assert.Contains(name, page);
        }

        await StopsCleanlyAsync(mesh);
    }

    private static async Task StopsCleanlyAsync(SidecarProcess mesh)
    {
        var pids = await mesh.StopAndCollectChildrenAsync();
        Assert.NotEmpty(pids);
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} outlived the mesh"));
    }

    [Fact]
    public async Task UsersOwnApp_JoinsTheMesh_ByCommandLine()
    {
        // A Python app (any language would do) serving files, called by a demo app through the sidecars.
        RequiredTools.RequirePython();
        var site = Directory.CreateTempSubdirectory("meshlite-site-");
        File.WriteAllText(Path.Combine(site.FullName, "catalog"), "python says hi");
        var meshFile = Path.Combine(Path.GetTempPath(), $"mesh-{Guid.NewGuid():N}.json");
        File.WriteAllText(meshFile, $$"""
            {
              "entry": "shop", "entryPath": "/catalog", "trafficRate": 0,
              "sidecar": { "Tracing:Sampling": "100" },
              "services": {
                "shop": { "app": { "calls": ["catalog"] } },
                "catalog": { "command": "exec python3 -m http.server {port} --bind 127.0.0.1 --directory {{site.FullName}}" }
              }
            }
            """);

        await using var mesh = await SidecarProcess.StartMeshAsync(meshFile);
        var entry = mesh.Match(@"Entry: (\S+)");
        var dashboard = mesh.Match(@"Dashboard: (\S+)");
        using var client = new HttpClient();
        using var response = await client.GetAsync(entry);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"service\": \"catalog\"", body);
        Assert.Contains("\"status\": 200", body);
        List<Span> spans = [];
        var deadline = DateTime.UtcNow.AddSeconds(30);
        bool Complete() => spans.Any(s => s.Service == "catalog.default" && s.Kind == 2 && spans.Any(p => p.SpanId == s.ParentSpanId));
        while (!Complete() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(300);
            spans = ParseSpans(await client.GetStringAsync($"{dashboard}/api/telemetry/traces?limit=20"));
        }

        var server = Assert.Single(spans, s => s.Service == "catalog.default" && s.Kind == 2);
        Assert.Equal("200", server.Tags["http.status_code"]);
        Assert.Contains(spans, s => s.SpanId == server.ParentSpanId && s.Service == "shop.default");
        await mesh.StopAndCollectChildrenAsync();
        site.Delete(recursive: true);
    }

    [Fact]
    public async Task TargetMode_InjectsIstioDelayAndAbortFaults_WithTheirFlags()
    {
        var appPort = ProxyTests.FreePort().ToString();
        await using var delayed = await SidecarProcess.StartAsync(TracingTests.Config("target", null, ("MeshLite:Inbound:AppPort", appPort)), leadingArguments:
            ["target", "--port", "0", "--app-port", appPort, "--response-bytes", "512", "--delay-percent", "100", "--delay-ms", "300"]);
        using var client = new HttpClient();

        var started = Stopwatch.GetTimestamp();
        using var slow = await client.GetAsync($"http://127.0.0.1:{delayed.InboundPort}/");
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromMilliseconds(290));
        Assert.Equal(HttpStatusCode.OK, slow.StatusCode);
        Assert.Equal(512, (await slow.Content.ReadAsByteArrayAsync()).Length);

        var abortPort = ProxyTests.FreePort().ToString();
        await using var aborting = await SidecarProcess.StartAsync(TracingTests.Config("target", null, ("MeshLite:Inbound:AppPort", abortPort)), leadingArguments:
            ["target", "--port", "0", "--app-port", abortPort, "--abort-percent", "100", "--abort-status", "418"]);
        using var aborted = await client.GetAsync($"http://127.0.0.1:{aborting.InboundPort}/");
        Assert.Equal((HttpStatusCode)418, aborted.StatusCode);
        Assert.Contains("fault filter abort (response_flags: FI)", await aborted.Content.ReadAsStringAsync());

        await MetricsAndLogTests.Poll(delayed, m => MetricsAndLogTests.Sum(m, "istio_requests_total") >= 1, "the delayed request");
        await MetricsAndLogTests.Poll(aborting, m => MetricsAndLogTests.Sum(m, "istio_requests_total") >= 1, "the aborted request");
        var di = Assert.Single(await PrometheusText.ScrapeAsync(delayed.MetricsPort), s => s.Name == "istio_requests_total");
        Assert.Equal("DI", di["response_flags"]);
        var fi = Assert.Single(await PrometheusText.ScrapeAsync(aborting.MetricsPort), s => s.Name == "istio_requests_total");
        Assert.Equal(("FI", "418"), (fi["response_flags"], fi["response_code"]));
    }

    [Fact]
    public async Task LoadGenerator_RefusesAddressesOffThisMachine()
    {
        var (exitCode, output) = await RunMeshLiteAsync("load", "--url", "http://192.0.2.10/", "-n", "1");

        Assert.Equal(2, exitCode);
        Assert.Contains("only sends to loopback", output);
    }

    [Fact]
    public async Task MeshFile_WithAnUnknownCall_IsRefusedWithItsKey()
    {
        var meshFile = Path.Combine(Path.GetTempPath(), $"mesh-{Guid.NewGuid():N}.json");
        File.WriteAllText(meshFile, """{ "services": { "a": { "app": { "calls": ["nowhere"] } } } }""");

        var (exitCode, output) = await RunMeshLiteAsync("mesh", meshFile, "--otlp-endpoint", "http://127.0.0.1:1");

        Assert.Equal(2, exitCode);
        Assert.Contains("services.a.app.calls names 'nowhere'", output);
    }

    [Fact]
    public async Task Mesh_WhoseSidecarRefusesItsSettings_StopsWithThatSidecarsMessage()
    {
        var meshFile = Path.Combine(Path.GetTempPath(), $"mesh-{Guid.NewGuid():N}.json");
        File.WriteAllText(meshFile, """
            { "services": { "a": { "app": { "calls": ["b"] } }, "b": { "app": {}, "sidecar": { "Tracing:Sampling": "lots" } } } }
            """);

        var (exitCode, output) = await RunMeshLiteAsync("mesh", meshFile, "--otlp-endpoint", "http://127.0.0.1:1");

        Assert.Equal(1, exitCode);
        Assert.Contains("b's MeshLite exited with code 2", output);
        Assert.Contains("MeshLite:Tracing:Sampling", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }
}
