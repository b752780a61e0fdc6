using System.Diagnostics;
using System.Net;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>
/// Deferred keep across sidecar processes, checked over OTLP: at 0 % and 1 % head sampling a failed request's whole
/// path is exported with the ids that were propagated, a healthy one exports nothing, a slow hop is kept, and the
/// head-sampling cap holds a burst with whole traces.
/// </summary>
public class KeepTests
{
    private const string ReasonTag = "meshlite.sampling.reason";

    /// <summary>Its first 8 hex digits draw 7295 of 10000: never sampled at 1 %; character 14 says "not traced".</summary>
    private const string UnsampledRequestId = "ffffffff-0000-4000-8000-000000000001";

    private static readonly string[] _chain = ["frontend", "gateway", "bank"];
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private static Task FailOn(HttpContext context, string path)
    {
        context.Response.StatusCode = context.Request.Path == path ? 503 : 200;
        return context.Response.WriteAsync("bank");
    }

    private static async Task<HttpResponseMessage> GetAsync(string url, string requestId = UnsampledRequestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("x-request-id", requestId);
        return await _client.SendAsync(request);
    }

    [Theory]
    [InlineData("0", false)]
    [InlineData("1", false)]
    [InlineData("0", true)]
    [InlineData("1", true)]
    public async Task FailureAtTheEnd_KeepsTheWholePath_WithThePropagatedIds(string sampling, bool middleAppHidesTheError)
    {
        await using var mesh = await Mesh.StartChainAsync(_chain,
            new Dictionary<string, string?> { ["MeshLite:Tracing:Sampling"] = sampling },
            lastApp: context => FailOn(context, "/pay"),
            answer: service => service == "gateway" && middleAppHidesTheError ? _ => 200 : null);

        using var response = await GetAsync(mesh.EntryAddress + "/pay");

        Assert.Equal(middleAppHidesTheError ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.False(response.Headers.Contains("traceresponse"), "a client from outside the mesh is never sent traceresponse");
        var traceId = Assert.Single(mesh.Apps[2].Received)["traceparent"].Split('-')[1];
        Assert.EndsWith("-00", mesh.Apps[2].Received.Single()["traceparent"], StringComparison.Ordinal);
        Assert.Equal(UnsampledRequestId, mesh.Apps[2].Received.Single()["x-request-id"]);

        var spans = await mesh.Receiver.WaitForTraceAsync(traceId, 5);
        Assert.Equal(5, spans.Count);
        var frontendServer = spans.Single(s => s.Service.StartsWith("frontend", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Server);
        var frontendClient = spans.Single(s => s.Service.StartsWith("frontend", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Client);
        var gatewayServer = spans.Single(s => s.Service.StartsWith("gateway", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Server);
        var gatewayClient = spans.Single(s => s.Service.StartsWith("gateway", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Client);
        var bankServer = spans.Single(s => s.Service.StartsWith("bank", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Server);

        // Every parent is present: the ids each hop propagated are the ids of the spans kept.
        var dump = string.Join("\n", spans.Select(s => $"{s.Service} {s.Kind} {s.SpanId}<-{s.ParentSpanId} {s.Attributes.GetValueOrDefault(ReasonTag)}"))
            + "\napps got: " + string.Join(" | ", mesh.Apps.Select(a => a.Received.Single()["traceparent"]));
        Assert.True(frontendServer.ParentSpanId == "", dump);
        Assert.True(frontendServer.SpanId == mesh.Apps[0].Received.Single()["traceparent"].Split('-')[2], dump);
        Assert.True(frontendServer.SpanId == frontendClient.ParentSpanId, dump);
        Assert.True(frontendClient.SpanId == gatewayServer.ParentSpanId, dump);
        Assert.True(gatewayServer.SpanId == mesh.Apps[1].Received.Single()["traceparent"].Split('-')[2], dump);
        Assert.True(gatewayServer.SpanId == gatewayClient.ParentSpanId, dump);
        Assert.True(gatewayClient.SpanId == bankServer.ParentSpanId, dump);
        Assert.True(bankServer.SpanId == mesh.Apps[2].Received.Single()["traceparent"].Split('-')[2], dump);

        Assert.Equal("kept_error", bankServer.Tag(ReasonTag));
        Assert.Equal("kept_error", gatewayClient.Tag(ReasonTag));
        Assert.Equal("kept_path", gatewayServer.Tag(ReasonTag));
        Assert.Equal(middleAppHidesTheError ? "kept_path" : "kept_error", frontendClient.Tag(ReasonTag));
        Assert.Equal("kept_path", frontendServer.Tag(ReasonTag));
        Assert.Equal(middleAppHidesTheError ? "200" : "503", gatewayServer.Tag("http.status_code"));
        Assert.Equal("503", bankServer.Tag("http.status_code"));

        // MeshLite consumed its own signal: the apps never saw traceresponse.
        Assert.All(mesh.Apps.Take(2).SelectMany(a => a.ResponsesReceived), headers => Assert.False(headers.ContainsKey("traceresponse")));
        var kept = await PrometheusText.ScrapeAsync(mesh.Sidecars[1].AdminPort);
        Assert.Equal(1, kept.Single(m => m.Name == "meshlite_spans_kept_total" && m["reason"] == "kept_error").Value);
        Assert.Equal(1, kept.Single(m => m.Name == "meshlite_spans_kept_total" && m["reason"] == "kept_path").Value);
    }

    [Fact]
    public async Task HealthyRequests_ExportNothing_WhileAFailedOneBesideThemIsKept()
    {
        // The last app also answers with a traceresponse of its own claiming the trace was recorded: towards a mesh
        // caller that header is MeshLite's alone, so it must not keep anything.
        await using var mesh = await Mesh.StartChainAsync(_chain,
            new Dictionary<string, string?> { ["MeshLite:Tracing:Sampling"] = "0" },
            lastApp: context =>
            {
                var traceId = context.Request.Headers["traceparent"].ToString().Split('-')[1];
                context.Response.Headers["traceresponse"] = $"00-{traceId}-00f067aa0ba902b7-01";
                return FailOn(context, "/fail");
            });

        for (var i = 0; i < 5; i++)
        {
            using var ok = await GetAsync(mesh.EntryAddress + "/ok" + i, $"ffffffff-0000-4000-8000-00000000001{i}");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var failed = await GetAsync(mesh.EntryAddress + "/fail");
        var failedTrace = mesh.Apps[2].Received.Last()["traceparent"].Split('-')[1];

        // The healthy requests ended before the failed one started; their spans would have come first.
        var spans = await mesh.Receiver.WaitForTraceAsync(failedTrace, 5);
        Assert.Equal(5, spans.Count);
        Assert.All(mesh.Receiver.Spans, s => Assert.Equal(failedTrace, s.TraceId));
    }

    [Fact]
    public async Task SlowHop_OverItsThreshold_IsKept_AndAFastOneIsNot()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await TestApp.StartAsync(async context =>
        {
            if (context.Request.Path == "/slow")
            {
                await Task.Delay(400);
            }

            await context.Response.WriteAsync("done");
        });
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("svc", receiver,
            ("MeshLite:Inbound:AppPort", app.Port.ToString()), ("MeshLite:Tracing:Sampling", "0"),
            ("MeshLite:Tracing:Keep:SlowerThanMs", "5000"), ("MeshLite:Tracing:Overrides:0:PathPrefix", "/slow"),
            ("MeshLite:Tracing:Overrides:0:SlowerThanMs", "200")));

        using (await GetAsync($"http://127.0.0.1:{sidecar.InboundPort}/fast"))
        {
        }

        using (await GetAsync($"http://127.0.0.1:{sidecar.InboundPort}/slow"))
        {
        }

        var span = Assert.Single(await receiver.WaitForAsync(s => s.Count >= 1));
        Assert.EndsWith("/slow", span.Tag("http.url"), StringComparison.Ordinal);
        Assert.Equal("kept_slow", span.Tag(ReasonTag));
        Assert.Equal(app.Received.Last()["traceparent"].Split('-')[2], span.SpanId);

        // The fast request ended first; had it been kept, it would be here too.
        Assert.Single(receiver.Spans);
    }

    [Fact]
    public async Task RateCap_HoldsABurstAt100Percent_ToItsRate_WithWholeTraces()
    {
        await using var mesh = await Mesh.StartChainAsync(["entry", "next"],
            new Dictionary<string, string?> { ["MeshLite:Tracing:Sampling"] = "100" },
            perService: new Dictionary<string, IDictionary<string, string?>> { ["entry"] = new Dictionary<string, string?> { ["MeshLite:Tracing:MaxTracesPerSecond"] = "5" } });

        const int burst = 40;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, burst).Select(async i =>
        {
            using var response = await _client.GetAsync($"{mesh.EntryAddress}/burst{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }));
        var elapsed = Stopwatch.GetElapsedTime(started);

        var decisions = await PrometheusText.ScrapeAsync(mesh.Sidecars[0].AdminPort);
        var sampled = (int)decisions.Single(m => m.Name == "meshlite_trace_decisions_total" && m["decision"] == "sampled" && m["reason"] == "random").Value;
        var limited = (int)decisions.Single(m => m.Name == "meshlite_trace_decisions_total" && m["decision"] == "not_sampled" && m["reason"] == "rate_limited").Value;
        Assert.Equal(burst, sampled + limited);
        Assert.InRange(sampled, 1, 5 + (int)Math.Ceiling(elapsed.TotalSeconds * 5));

        // Each trace the entry started is whole: the next sidecar followed the caller's decision and was never refused.
        var spans = await mesh.Receiver.WaitForAsync(s => s.Count >= sampled * 3, what: $"{sampled} whole traces");
        Assert.Equal(sampled, spans.Select(s => s.TraceId).Distinct().Count());
        Assert.All(spans.GroupBy(s => s.TraceId), trace => Assert.Equal(3, trace.Count()));
    }

    [Fact]
    public async Task AnAppWithItsOwnSdkInTheMiddle_KeptSpansStillShareOneTrace_ItsOwnSpanIsTheMissingParent()
    {
        // As an app instrumented with the OpenTelemetry SDK (W3C only, ParentBased sampler) behaves at sampled=0:
        // it continues the trace under a span of its own that it does not record, and forwards nothing else.
        var appSpanIds = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Func<HttpContext, IEnumerable<KeyValuePair<string, string>>> sdkApp = context =>
        {
            var incoming = context.Request.Headers["traceparent"].ToString().Split('-');
            var ownSpan = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 8));
            appSpanIds.Enqueue(ownSpan);
            return [KeyValuePair.Create("traceparent", $"00-{incoming[1]}-{ownSpan}-{incoming[3]}")];
        };
        await using var mesh = await Mesh.StartChainAsync(_chain,
            new Dictionary<string, string?> { ["MeshLite:Tracing:Sampling"] = "0" },
            outgoing: service => service == "gateway" ? sdkApp : null,
            lastApp: context => FailOn(context, "/pay"));

        using var response = await GetAsync(mesh.EntryAddress + "/pay");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);

        var traceId = mesh.Apps[2].Received.Single()["traceparent"].Split('-')[1];
        var spans = await mesh.Receiver.WaitForTraceAsync(traceId, 5);
        Assert.Equal(5, spans.Count);
        var gatewayServer = spans.Single(s => s.Service.StartsWith("gateway", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Server);
        var gatewayClient = spans.Single(s => s.Service.StartsWith("gateway", StringComparison.Ordinal) && s.Kind == ReceivedSpan.Client);
        Assert.Equal(Assert.Single(appSpanIds), gatewayClient.ParentSpanId);
        Assert.NotEqual(gatewayServer.SpanId, gatewayClient.ParentSpanId);
        Assert.Equal("kept_path", gatewayServer.Tag(ReasonTag));
    }

    [Fact]
    public async Task CallThatLostTheTrace_IsKeptAsABreak_AtZeroPercent()
    {
        // The front app calls out with none of the trace headers it was given: its call starts a new trace.
        await using var mesh = await Mesh.StartChainAsync(["front", "next"],
            new Dictionary<string, string?> { ["MeshLite:Tracing:Sampling"] = "0" },
            forwardedHeaders: service => service == "front" ? [] : null);

        using var response = await GetAsync(mesh.EntryAddress + "/orders");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var span = Assert.Single(await mesh.Receiver.WaitForAsync(s => s.Count >= 1));
        Assert.Equal((ReceivedSpan.Client, "kept_break", "missing"), (span.Kind, span.Tag(ReasonTag), span.Tag("meshlite.propagation")));
        Assert.Equal(mesh.Apps[1].Received.Single()["traceparent"].Split('-')[1], span.TraceId);
        Assert.NotEqual(mesh.Apps[0].Received.Single()["traceparent"].Split('-')[1], span.TraceId);
    }

    [Fact]
    public async Task KeptSpan_WithItsEvents_IsServedByDebugTraces_WithoutACollector()
    {
        await using var app = await TestApp.StartAsync(context => { context.Response.StatusCode = 503; return Task.CompletedTask; });
        await using var sidecar = await SidecarProcess.StartAsync(TracingTests.Config("front", null,
            ("MeshLite:Tracing:Sampling", "0"), ("MeshLite:Services:payment:Endpoints:0", $"http://127.0.0.1:{app.Port}"),
            ("MeshLite:Services:payment:Retries:Attempts", "1"), ("MeshLite:Services:payment:Retries:RetryOn", "5xx")));

        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{sidecar.OutboundPort}/pay");
        request.Headers.Host = "payment";
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);

        var traceId = app.Received.First()["traceparent"].Split('-')[1];
        var json = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !json.Contains(traceId, StringComparison.Ordinal) && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            json = await _client.GetStringAsync($"http://127.0.0.1:{sidecar.AdminPort}/debug/traces?traceId={traceId}&limit=10");
        }

        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var span = doc.RootElement.GetProperty("resourceSpans")[0].GetProperty("scopeSpans")[0].GetProperty("spans")[0];
        Assert.Equal(app.Received.First()["traceparent"].Split('-')[2], span.GetProperty("spanId").GetString());
        Assert.Contains(span.GetProperty("attributes").EnumerateArray(),
            a => a.GetProperty("key").GetString() == ReasonTag && a.GetProperty("value").GetProperty("stringValue").GetString() == "kept_error");
        var retry = Assert.Single(span.GetProperty("events").EnumerateArray());
        Assert.Equal("retry", retry.GetProperty("name").GetString());
        Assert.Contains(retry.GetProperty("attributes").EnumerateArray(), a => a.GetProperty("key").GetString() == "retry.reason" && a.GetProperty("value").GetProperty("stringValue").GetString() == "503");
    }
}
