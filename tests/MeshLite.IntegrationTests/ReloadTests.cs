using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeshLite.IntegrationTests.Common;
using Microsoft.Extensions.Logging;

namespace MeshLite.IntegrationTests;

/// <summary>
/// Edits of the <c>--config</c> file while 8 connections send requests without pause: each accepted edit becomes a new
/// version in <c>/config_dump</c> and takes effect (custom tags, sampling, the registry's endpoints, the access log's
/// encoding, the outbound policy), an invalid edit is refused by name and the last good version stays, and not one
/// request fails across all of it.
/// </summary>
public class ReloadTests
{
    private const int Connections = 8;

    [Fact]
    public async Task EditsUnderLoad_ApplyLive_InvalidOnesAreRefusedByName_AndNoRequestFails()
    {
        await using var first = await TestApp.StartEchoAsync("first");
        await using var second = await TestApp.StartEchoAsync("second");
        await using var outside = await TestApp.StartEchoAsync("outside");
        await using var receiver = await OtlpReceiver.StartAsync();
        var accessLog = InProcessSidecar.NewAccessLogPath();
        var file = Path.Combine(Path.GetTempPath(), $"meshlite-reload-{Guid.NewGuid():N}.json");
        var config = Config(first.Port, receiver.GrpcEndpoint, accessLog, tag: "v1");
        await WriteAsync(file, config);
        var logs = new CapturingLoggerProvider();
        await using var sidecar = await InProcessSidecar.StartFromFileAsync(file, b => b.Logging.AddProvider(logs));
        using var admin = new HttpClient();

        using var stop = new CancellationTokenSource();
        var sent = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var load = Enumerable.Range(0, Connections).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });
            while (!stop.IsCancellationRequested)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/work") { Headers = { Host = "backend" } };
                try
                {
                    using var response = await client.SendAsync(request);
                    var body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode != HttpStatusCode.OK || body is not ("first" or "second"))
                    {
                        failures.Enqueue($"{(int)response.StatusCode} {body}");
                    }
                }
                catch (HttpRequestException ex)
                {
                    failures.Enqueue(ex.Message);
                }

                Interlocked.Increment(ref sent);
            }
        })).ToList();

        // Version 2: a new custom tag value and a new endpoint.
        config = Config(second.Port, receiver.GrpcEndpoint, accessLog, tag: "v2");
        await WriteAsync(file, config);
        await WaitForVersionAsync(admin, sidecar, 2);
        var before = second.Received.Count;
        await Eventually.Until(() => second.Received.Count > before + 20, "requests reach the new endpoint");
        await receiver.WaitForAsync(s => s.Any(x => x.Kind == ReceivedSpan.Client && x.Attributes.GetValueOrDefault("env") == "v2"), what: "a span with the new tag");

        // Version 3: the access log switches to TEXT, and unknown hosts are refused (REGISTRY_ONLY).
        config["MeshLite"]!["AccessLog"]!["Encoding"] = "TEXT";
        config["MeshLite"]!["OutboundTrafficPolicy"] = "REGISTRY_ONLY";
        await WriteAsync(file, config);
        await WaitForVersionAsync(admin, sidecar, 3);
        using (var blocked = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/") { Headers = { Host = $"127.0.0.1:{outside.Port}" } })
        {
            using var response = await admin.SendAsync(blocked);
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        await Eventually.Until(async () => (await File.ReadAllLinesAsync(accessLog)).LastOrDefault()?.StartsWith('[') == true, "TEXT lines after the edit");

        // Invalid edits: a value out of range, then a file that is not JSON. Both are refused; version 3 stays.
        config["MeshLite"]!["Tracing"]!["Sampling"] = 300;
        await WriteAsync(file, config);
        await Eventually.Until(() => logs.Lines.Any(l => l.EventName == "ConfigurationRejected"), "the rejection logged");
        await File.WriteAllTextAsync(file + ".tmp", "{ \"MeshLite\": { ");
        File.Move(file + ".tmp", file, overwrite: true);
        await Eventually.Until(() => logs.Lines.Count(l => l.EventName == "ConfigurationRejected") >= 2, "the second rejection logged");

        var dump = await ConfigDumpAsync(admin, sidecar);
        Assert.Equal(3, dump["configuration"]!["version"]!.GetValue<int>());
        Assert.Contains("is not valid JSON", dump["configuration"]!["last_rejected"]!["errors"]![0]!.GetValue<string>());
        Assert.Equal(100, dump["meshlite"]!["Tracing"]!["Sampling"]!.GetValue<double>());
        var rejected = logs.Lines.First(l => l.EventName == "ConfigurationRejected");
        Assert.Equal(LogLevel.Error, rejected.Level);
        Assert.Contains("MeshLite:Tracing:Sampling '300'", rejected.Message);
        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        Assert.Equal(2, metrics.Single(m => m.Name == "meshlite_config_reloads_total" && m["result"] == "rejected").Value);
        Assert.Equal(2, metrics.Single(m => m.Name == "meshlite_config_reloads_total" && m["result"] == "accepted").Value);
        Assert.Equal(3, metrics.Single(m => m.Name == "meshlite_config_version").Value);

        // Version 4: a restart-only key is edited along with a live one; the live one applies, the other is named.
        config["MeshLite"]!["Tracing"]!["Sampling"] = 100;
        config["MeshLite"]!["ServiceName"] = "renamed";
        config["MeshLite"]!["OutboundTrafficPolicy"] = "ALLOW_ANY";
        await WriteAsync(file, config);
        dump = await WaitForVersionAsync(admin, sidecar, 4);
        Assert.Equal(["MeshLite:ServiceName"], dump["configuration"]!["restart_required"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("client", dump["meshlite"]!["ServiceName"]!.GetValue<string>());
        // The version is published before its log lines are written: wait for the warning, do not race it.
        await Eventually.Until(() => logs.Lines.Any(l => l.EventName == "ConfigurationRestartRequired" && l.Message.Contains("MeshLite:ServiceName")),
            "the restart-required warning naming MeshLite:ServiceName");
        using (var allowed = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/") { Headers = { Host = $"127.0.0.1:{outside.Port}" } })
        {
            using var response = await admin.SendAsync(allowed);
            Assert.Equal("outside", await response.Content.ReadAsStringAsync());
        }

        var atEnd = Volatile.Read(ref sent);
        await Eventually.Until(() => Volatile.Read(ref sent) > atEnd + 50, "traffic still flowing");
        await stop.CancelAsync();
        await Task.WhenAll(load);
        Assert.True(failures.IsEmpty, $"{failures.Count} of {sent} requests failed across the reloads, e.g. {failures.FirstOrDefault()}");
        Assert.True(sent > 200, $"only {sent} requests were sent");
    }

    [Fact]
    public async Task RetriesAddedByAnEdit_ApplyToTheNextRequest()
    {
        var tries = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var backend = await TestApp.StartAsync(context =>
        {
            var n = tries.AddOrUpdate(context.Request.Headers["x-test-key"].ToString(), 1, (_, v) => v + 1);
            context.Response.StatusCode = n == 1 ? 503 : 200;
            return Task.CompletedTask;
        });
        await using var receiver = await OtlpReceiver.StartAsync();
        var file = Path.Combine(Path.GetTempPath(), $"meshlite-reload-{Guid.NewGuid():N}.json");
        var config = Config(backend.Port, receiver.GrpcEndpoint, InProcessSidecar.NewAccessLogPath(), tag: "v1");
        await WriteAsync(file, config);
        await using var sidecar = await InProcessSidecar.StartFromFileAsync(file);
        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await SendAsync());

        config["MeshLite"]!["Services"]!["backend"]!["Retries"] = new JsonObject { ["RetryOn"] = "503" };
        await WriteAsync(file, config);
        await WaitForVersionAsync(client, sidecar, 2);
        Assert.Equal(HttpStatusCode.OK, await SendAsync());

        async Task<HttpStatusCode> SendAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/") { Headers = { Host = "backend" } };
            request.Headers.Add("x-test-key", Guid.NewGuid().ToString("N"));
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }
    }

    [Fact]
    public async Task WithoutAConfigFile_NothingReloads_AndConfigDumpSaysSo()
    {
        await using var sidecar = await InProcessSidecar.StartAsync("svc", 1);
        using var admin = new HttpClient();
        var dump = await ConfigDumpAsync(admin, sidecar);
        Assert.Equal(1, dump["configuration"]!["version"]!.GetValue<int>());
        Assert.StartsWith("off", dump["configuration"]!["reloads"]!.GetValue<string>());
        Assert.Null(dump["configuration"]!["file"]);
    }

    private static JsonObject Config(int backendPort, string otlp, string accessLog, string tag) => new()
    {
        ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning", ["MeshLite"] = "Information" } },
        ["MeshLite"] = new JsonObject
        {
            ["ServiceName"] = "client",
            ["PodName"] = "client-0",
            ["PodIp"] = "127.0.0.1",
            ["TerminationDrainDuration"] = "00:00:00",
            ["Inbound"] = new JsonObject { ["Port"] = 0, ["BindAddress"] = "127.0.0.1", ["AppPort"] = 1 },
            ["Outbound"] = new JsonObject { ["Port"] = 0 },
            ["Admin"] = new JsonObject { ["Port"] = 0 },
            ["Metrics"] = new JsonObject { ["Port"] = 0 },
            ["AccessLog"] = new JsonObject { ["Enabled"] = true, ["Encoding"] = "JSON", ["Path"] = accessLog },
            ["OutboundTrafficPolicy"] = "ALLOW_ANY",
            ["Services"] = new JsonObject
            {
                ["backend"] = new JsonObject { ["Endpoints"] = new JsonArray($"http://127.0.0.1:{backendPort}") },
            },
            ["Tracing"] = new JsonObject
            {
                ["Sampling"] = 100,
                ["CustomTags"] = new JsonObject { ["env"] = new JsonObject { ["Literal"] = new JsonObject { ["Value"] = tag } } },
                ["Otlp"] = new JsonObject { ["Endpoint"] = otlp, ["ScheduledDelayMilliseconds"] = 50 },
            },
        },
    };

    /// <summary>As a deployment tool writes a file: the whole new content, renamed into place.</summary>
    private static async Task WriteAsync(string file, JsonObject config)
    {
        await File.WriteAllTextAsync(file + ".tmp", config.ToJsonString());
        File.Move(file + ".tmp", file, overwrite: true);
    }

    private static async Task<JsonNode> ConfigDumpAsync(HttpClient admin, InProcessSidecar sidecar) =>
        JsonNode.Parse(await admin.GetStringAsync(sidecar.AdminAddress + "/config_dump"))!;

    private static async Task<JsonNode> WaitForVersionAsync(HttpClient admin, InProcessSidecar sidecar, int version)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var dump = await ConfigDumpAsync(admin, sidecar);
            if (dump["configuration"]!["version"]!.GetValue<int>() >= version)
            {
                Assert.Equal(version, dump["configuration"]!["version"]!.GetValue<int>());
                return dump;
            }

            Assert.True(DateTime.UtcNow < deadline, $"configuration version {version} never became live: {dump["configuration"]}");
            await Task.Delay(50);
        }
    }

}
