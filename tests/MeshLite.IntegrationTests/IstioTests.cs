using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>
/// Istio's own YAML as a sidecar's configuration (<c>MeshLite:Istio:Path</c>), through real sockets: a VirtualService's
/// rules and faults applied on the calling side with Envoy's flags, a Telemetry's sampling and custom tags on the
/// exported spans, <c>/config_dump</c> naming the resources, and live edits with the last-good rule.
/// </summary>
public class IstioTests
{
    private const string Ledger = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ledger, namespace: default}
        spec:
          hosts: [ledger]
          http:
          - name: fail-on-demand
            match: [{headers: {x-fail: {exact: "1"}}}]
            fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
            route: [{destination: {host: ledger}}]
          - name: slow
            match: [{uri: {prefix: /slow}}]
            fault: {delay: {fixedDelay: 250ms, percentage: {value: 100}}}
            route: [{destination: {host: ledger}}]
          - name: api
            match: [{uri: {prefix: /api}}]
            timeout: 300ms
            retries: {attempts: 2, retryOn: "503"}
            route: [{destination: {host: ledger}}]
          - name: once
            match: [{uri: {prefix: /once}}]
            retries: {attempts: 0}
            route: [{destination: {host: ledger}}]
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          tracing:
          - providers: [{name: otel}]
            randomSamplingPercentage: 100
            customTags:
              team: {literal: {value: payments}}
              tenant: {header: {name: x-tenant, defaultValue: none}}
        """;

    private static string WriteFolder(string yaml)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"meshlite-istio-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "resources.yaml"), yaml);
        return folder;
    }

    /// <summary>A call to ledger that its first rule aborts: the status is the abort's, as the rule has it now.</summary>
    private static async Task<HttpStatusCode> FailAsync(HttpClient client, InProcessSidecar sidecar)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/api/pay") { Headers = { Host = "ledger" } };
        request.Headers.Add("x-fail", "1");
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<TestApp> StartLedgerAsync(ConcurrentQueue<string>? paths = null)
    {
        return await TestApp.StartAsync(async context =>
        {
            var path = context.Request.Path.Value!;
            paths?.Enqueue(path);
            if (path.StartsWith("/api/hang", StringComparison.Ordinal))
            {
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            }

            context.Response.StatusCode = path.EndsWith("/unavailable", StringComparison.Ordinal) ? 503 : 200;
            await context.Response.WriteAsync("ledger");
        });
    }

    [Fact]
    public async Task VirtualService_OnTheCallingSidecar_AbortsDelaysTimesOutAndRetriesByRule_WithEnvoysFlags_AndNoRuleIsNR()
    {
        var paths = new ConcurrentQueue<string>();
        await using var ledger = await StartLedgerAsync(paths);
        var folder = WriteFolder(Ledger);
        var accessLog = InProcessSidecar.NewAccessLogPath();
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = folder,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",

            // The service's own policy would retry 503s; a rule's policy replaces it, "attempts: 0" included.
            ["MeshLite:Services:ledger:Retries:RetryOn"] = "503",
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = accessLog,
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        async Task<(HttpStatusCode Status, string Body)> CallAsync(string path, string? fail = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + path) { Headers = { Host = "ledger" } };
            if (fail is not null)
            {
                request.Headers.Add("x-fail", fail);
            }

            using var response = await client.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        // The abort is the caller's: 503 FI, and ledger never sees the request.
        var aborted = await CallAsync("/api/pay", fail: "1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, aborted.Status);
        Assert.Contains("response_flags: FI", aborted.Body, StringComparison.Ordinal);
        Assert.Empty(paths);

        Assert.Equal((HttpStatusCode.OK, "ledger"), await CallAsync("/slow/report"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, (await CallAsync("/api/hang")).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await CallAsync("/api/unavailable")).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await CallAsync("/once/unavailable")).Status);

        // No rule matches: Envoy's 404 NR, and again ledger sees nothing.
        var unmatched = await CallAsync("/other");
        Assert.Equal(HttpStatusCode.NotFound, unmatched.Status);
        Assert.Contains("response_flags: NR", unmatched.Body, StringComparison.Ordinal);

        var lines = await InProcessSidecar.WaitForAccessLinesAsync(accessLog, 6);
        Assert.Contains(lines, l => l.Contains("\"GET /api/pay HTTP/1.1\" 503 FI fault_filter_abort", StringComparison.Ordinal) && l.Contains(" fail-on-demand ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"GET /slow/report HTTP/1.1\" 200 DI ", StringComparison.Ordinal) && l.Contains(" slow ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"GET /api/hang HTTP/1.1\" 504 UT ", StringComparison.Ordinal) && l.Contains(" api ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"GET /api/unavailable HTTP/1.1\" 503 URX ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"GET /other HTTP/1.1\" 404 NR route_not_found", StringComparison.Ordinal));

        // The rule's retry policy (attempts 2 on 503) on a cluster that has none of its own: three tries reached ledger.
        Assert.Equal(3, paths.Count(p => p == "/api/unavailable"));
        Assert.Equal(1, paths.Count(p => p == "/once/unavailable"));
        Assert.DoesNotContain("/other", paths);
    }

    [Fact]
    public async Task Telemetry_SamplingAndCustomTags_AreOnTheExportedSpans_AndConfigDumpNamesEachResource()
    {
        await using var ledger = await StartLedgerAsync();
        await using var receiver = await OtlpReceiver.StartAsync();
        var folder = WriteFolder(Ledger);
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = folder,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",
            ["MeshLite:Tracing:Otlp:Endpoint"] = receiver.GrpcEndpoint,
            ["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "100",

            // As an environment variable or a command-line key would: it wins over the Telemetry's.
            ["MeshLite:Tracing:CustomTags:tenant:Header:DefaultValue"] = "unknown",
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using (var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/api/pay") { Headers = { Host = "ledger", } })
        {
            request.Headers.Add("x-fail", "1");
            request.Headers.Add("x-tenant", "acme");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        // Sampling 100 % came from the Telemetry (MeshLite's default is 1 %): the aborted call's CLIENT span is exported with its tags.
        var spans = await receiver.WaitForAsync(s => s.Any(span => span.Kind == ReceivedSpan.Client), what: "the CLIENT span of the aborted call");
        var span = spans.First(s => s.Kind == ReceivedSpan.Client);
        Assert.Equal("FI", span.Tag("response_flags"));
        Assert.Equal("payments", span.Tag("team"));
        Assert.Equal("acme", span.Tag("tenant"));
        Assert.Equal("outbound|80||ledger.default.svc.cluster.local", span.Tag("upstream_cluster"));

        var dump = JsonNode.Parse(await client.GetStringAsync(sidecar.AdminAddress + "/config_dump"))!;
        var settings = dump["istio"]!["settings"]!;
        Assert.Equal("Telemetry istio-system/mesh-default", (string?)settings["Tracing:Sampling"]);
        Assert.Equal("Telemetry istio-system/mesh-default", (string?)settings["Tracing:CustomTags:team"]);
        Assert.Equal("VirtualService default/ledger", (string?)settings["Services:ledger:Routes"]);
        Assert.Equal("Telemetry istio-system/mesh-default (overridden by the environment or command line: MeshLite:Tracing:CustomTags:tenant:Header:DefaultValue)",
            (string?)settings["Tracing:CustomTags:tenant"]);
        Assert.Equal("unknown", (string?)dump["meshlite"]!["Tracing"]!["CustomTags"]!["tenant"]!["Header"]!["DefaultValue"]);
        Assert.Equal(100, (double)dump["meshlite"]!["Tracing"]!["Sampling"]!);
        Assert.Equal(folder, (string?)dump["istio"]!["path"]);
    }

    [Fact]
    public async Task AnEditedResource_AppliesLive_AnInvalidEditIsRefusedWithItsPosition_AndTheLastGoodStays()
    {
        await using var ledger = await StartLedgerAsync();
        var folder = WriteFolder(Ledger);
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = folder,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await FailAsync(client, sidecar));

        // A new abort status: live once the file is read again.
        File.WriteAllText(Path.Combine(folder, "resources.yaml"), Ledger.Replace("httpStatus: 503", "httpStatus: 418", StringComparison.Ordinal));
        await Eventually.Until(async () => await FailAsync(client, sidecar) == (HttpStatusCode)418, "the edited abort status to apply");

        // An invalid edit: refused with file, line, document and field; the 418 stays.
        File.WriteAllText(Path.Combine(folder, "resources.yaml"), Ledger.Replace("httpStatus: 503", "httpStatus: 999", StringComparison.Ordinal));
        JsonNode? rejected = null;
        await Eventually.Until(async () =>
        {
            rejected = JsonNode.Parse(await client.GetStringAsync(sidecar.AdminAddress + "/config_dump"))!["configuration"]!["last_rejected"];
            return rejected is not null;
        }, "the invalid edit to be refused");
        var error = (string)rejected!["errors"]![0]!;
        Assert.Contains("resources.yaml:9:", error, StringComparison.Ordinal);
        Assert.Contains("(document 1, VirtualService default/ledger): spec.http[0].fault.abort.httpStatus: httpStatus must be in range 200 - 599", error, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode)418, await FailAsync(client, sidecar));
    }

    [Fact]
    public async Task DisableSpanReporting_KeepsSamplingAndPropagation_ButStartsNoSpan_AndRequestIdSamplingFollowsTheTelemetry()
    {
        var traceparents = new ConcurrentQueue<string>();
        await using var upstream = await TestApp.StartAsync(context =>
        {
            traceparents.Enqueue(context.Request.Headers["traceparent"].ToString());
            return context.Response.WriteAsync("ok");
        });

        async Task<List<string>> SendAsync(string telemetry, int count, bool sameRequestId)
        {
            traceparents.Clear();
            var folder = WriteFolder(telemetry);
            await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
            {
                ["MeshLite:Istio:Path"] = folder,
                ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{upstream.Port}",
            });
            using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
            for (var i = 0; i < count; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/") { Headers = { Host = "ledger" } };
                request.Headers.Add("x-request-id", sameRequestId ? "7b3a3f38-9d4c-4ea4-9e1f-1a6c2f1d0c55" : Guid.NewGuid().ToString());
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            if (telemetry.Contains("disableSpanReporting", StringComparison.Ordinal))
            {
                var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
                Assert.Equal(count, metrics.Where(m => m.Name == "meshlite_trace_decisions_total" && m["decision"] == "sampled").Sum(m => m.Value));
                Assert.Equal(0, metrics.Single(m => m.Name == "meshlite_spans_started_total").Value);
            }

            return [.. traceparents];
        }

        // Reporting off: every request is still sampled (100 %) and says so downstream, yet no span is started.
        var quiet = await SendAsync("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 100, disableSpanReporting: true}]
            """, 5, sameRequestId: false);
        Assert.Equal(5, quiet.Count);
        Assert.All(quiet, t => Assert.EndsWith("-01", t));

        // At 50 %, one x-request-id gives one draw (Istio's default), so every request decides alike; with
        // useRequestIdForTraceSampling off, each new trace id draws again.
        const string Half = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 50, useRequestIdForTraceSampling: USE}]
            """;
        var byRequestId = await SendAsync(Half.Replace("USE", "true", StringComparison.Ordinal), 40, sameRequestId: true);
        Assert.Single(byRequestId.Select(t => t[^2..]).Distinct());
        var byTraceId = await SendAsync(Half.Replace("USE", "false", StringComparison.Ordinal), 40, sameRequestId: true);
        Assert.Equal(["-00", "-01"], byTraceId.Select(t => t[^3..]).Distinct().Order());
    }

    [Fact]
    public async Task AMountedConfigMap_SwappedByItsSymlinks_IsReadAgain()
    {
        // Kubernetes updates a ConfigMap volume by writing a new folder and pointing ..data at it.
        await using var ledger = await StartLedgerAsync();
        var mount = Directory.CreateTempSubdirectory("meshlite-configmap-").FullName;
        void Publish(string version, string yaml)
        {
            var folder = Path.Combine(mount, "..2026_" + version);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "resources.yaml"), yaml);
            var data = Path.Combine(mount, "..data");
            if (Path.Exists(data))
            {
                File.Delete(data);
            }

            File.CreateSymbolicLink(data, "..2026_" + version);
            if (!File.Exists(Path.Combine(mount, "resources.yaml")))
            {
                File.CreateSymbolicLink(Path.Combine(mount, "resources.yaml"), Path.Combine("..data", "resources.yaml"));
            }
        }

        Publish("v1", Ledger);
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = mount,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await FailAsync(client, sidecar));
        var dump = JsonNode.Parse(await client.GetStringAsync(sidecar.AdminAddress + "/config_dump"))!;
        Assert.StartsWith("1 Telemetry, 1 VirtualService from 1 file(s)", (string)dump["istio"]!["read"]!, StringComparison.Ordinal);

        Publish("v2", Ledger.Replace("httpStatus: 503", "httpStatus: 429", StringComparison.Ordinal));
        await Eventually.Until(async () => await FailAsync(client, sidecar) == HttpStatusCode.TooManyRequests, "the swapped ConfigMap to be read");
    }

    [Fact]
    public async Task AGrpcAbort_IsATrailersOnlyReplyWithTheStatus_AndTheFlag()
    {
        await using var ledger = await StartLedgerAsync();
        var folder = WriteFolder("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ledger, namespace: default}
            spec:
              hosts: [ledger]
              http:
              - fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}
                route: [{destination: {host: ledger}}]
            """);
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = folder,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, sidecar.OutboundAddress + "/ledger.Ledger/Post")
        {
            Headers = { Host = "ledger" },
            Content = new ByteArrayContent([0, 0, 0, 0, 0]) { Headers = { ContentType = new("application/grpc") } },
        };
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("14", response.Headers.GetValues("grpc-status").Single());
        Assert.Equal("fault_filter_abort", response.Headers.GetValues("grpc-message").Single());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task TheMeshConfigsAccessLogFileAndFormat_WriteEachLineAsIstioWould()
    {
        await using var ledger = await StartLedgerAsync();
        var accessLog = InProcessSidecar.NewAccessLogPath();
        var folder = WriteFolder($$"""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                accessLogFile: {{accessLog}}
                accessLogFormat: "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% tenant=%REQ(X-TENANT)% route=%ROUTE_NAME%\n"
            ---
            {{Ledger}}
            """);
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = folder,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",

            // The test defaults switch the log off; null leaves it to the mesh config.
            ["MeshLite:AccessLog:Enabled"] = null,
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/api/pay?id=7") { Headers = { Host = "ledger" } };
        request.Headers.Add("x-fail", "1");
        request.Headers.Add("x-tenant", "acme");
        using var response = await client.SendAsync(request);

        var line = Assert.Single(await InProcessSidecar.WaitForAccessLinesAsync(accessLog, 1));
        Assert.Equal("GET /api/pay?id=7 503 FI tenant=acme route=fail-on-demand", line);
    }

    [Fact]
    public async Task RewriteAndHeaders_OfARule_AreWhatTheDestinationAndTheCallerSee()
    {
        var seen = new ConcurrentQueue<(string Path, string Host, string Headers)>();
        await using var ledger = await TestApp.StartAsync(context =>
        {
            var headers = context.Request.Headers;
            seen.Enqueue((context.Request.Path + context.Request.QueryString, context.Request.Host.Value!,
                $"route={headers["x-route"]};debug={headers["x-debug"]};tags={string.Join('|', headers["x-tag"].ToArray())}"));
            context.Response.Headers["x-internal"] = "secret";
            context.Response.Headers["x-version"] = "v1";
            return context.Response.WriteAsync("ok");
        });
        var folder = WriteFolder("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ledger, namespace: default}
            spec:
              hosts: [ledger]
              http:
              - name: v2-api
                match: [{uri: {prefix: /api/}}]
                rewrite: {uri: /v2/, authority: ledger-v2.internal}
                headers:
                  request:
                    set: {x-route: v2}
                    add: {x-tag: from-mesh}
                    remove: [x-debug]
                  response:
                    set: {x-version: v2}
                    remove: [x-internal]
                route: [{destination: {host: ledger}}]
              - name: exact
                match: [{uri: {exact: /old}}]
                rewrite: {uri: /new}
                route: [{destination: {host: ledger}}]
            """);
        await using var sidecar = await InProcessSidecar.StartAsync("checkout", appPort: 1, new Dictionary<string, string?>
        {
            ["MeshLite:Istio:Path"] = folder,
            ["MeshLite:Services:ledger:Endpoints:0"] = $"http://127.0.0.1:{ledger.Port}",
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/api/books?id=7") { Headers = { Host = "ledger" } };
        request.Headers.Add("x-debug", "1");
        request.Headers.Add("x-route", "caller");
        request.Headers.Add("x-tag", "from-app");
        using var response = await client.SendAsync(request);

        // The matched prefix is replaced, the query kept; the Host is the rewritten one; remove, set, add in Envoy's order.
        var (path, host, headers) = Assert.Single(seen);
        Assert.Equal("/v2/books?id=7", path);
        Assert.Equal("ledger-v2.internal", host);
        Assert.Equal("route=v2;debug=;tags=from-app, from-mesh", headers);
        Assert.Equal("v2", response.Headers.GetValues("x-version").Single());
        Assert.False(response.Headers.Contains("x-internal"));

        // An exact match rewrites the whole path.
        using var old = new HttpRequestMessage(HttpMethod.Get, sidecar.OutboundAddress + "/old") { Headers = { Host = "ledger" } };
        using (await client.SendAsync(old))
        {
        }

        Assert.Equal("/new", seen.Last().Path);
    }
}
