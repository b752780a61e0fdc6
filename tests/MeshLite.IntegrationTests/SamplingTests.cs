using System.Net;
using MeshLite.IntegrationTests.Common;
using MeshLite.Tracing.Propagation;

namespace MeshLite.IntegrationTests;

/// <summary>Istio's sampling semantics and every trace-context format, observed as spans over OTLP and as headers the app received.</summary>
public class SamplingTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string ParentSpan = "00f067aa0ba902b7";
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private sealed class Single : IAsyncDisposable
    {
        public required OtlpReceiver Receiver { get; init; }
        public required TestApp App { get; init; }
        public required InProcessSidecar Sidecar { get; init; }

        public async Task<Dictionary<string, string>> SendAsync(string path, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Sidecar.InboundAddress + path);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            var before = App.Received.Count;
            using var response = await _client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return App.Received.ElementAt(before);
        }

        /// <summary>Sends a forced request and waits for its span: everything sent before it has been exported by then.</summary>
        public async Task<IReadOnlyList<ReceivedSpan>> DrainAsync()
        {
            var marker = Guid.NewGuid().ToString();
            await SendAsync("/marker", ("x-client-trace-id", marker));
            var spans = await Receiver.WaitForAsync(s => s.Any(x => x.Attributes.GetValueOrDefault("guid:x-client-trace-id") == marker));
            return spans.Where(x => x.Attributes.GetValueOrDefault("guid:x-client-trace-id") != marker).ToList();
        }

        public async ValueTask DisposeAsync()
        {
            await Sidecar.DisposeAsync();
            await App.DisposeAsync();
            await Receiver.DisposeAsync();
        }
    }

    private static Task<Single> StartAsync(double sampling, params (string Key, string Value)[] extra) => StartAsync(sampling, _ => extra);

    /// <param name="extra">Settings that may name the app's port (registry endpoints for outbound tests).</param>
    private static async Task<Single> StartAsync(double sampling, Func<TestApp, IEnumerable<(string Key, string Value)>> extra)
    {
        var receiver = await OtlpReceiver.StartAsync();
        var app = await TestApp.StartEchoAsync();
        var config = new Dictionary<string, string?>
        {
            ["MeshLite:Tracing:Sampling"] = sampling.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MeshLite:Tracing:Otlp:Endpoint"] = receiver.HttpEndpoint,
            ["MeshLite:Tracing:Otlp:Protocol"] = "http/protobuf",
            ["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "50",
        };
        foreach (var (k, v) in extra(app))
        {
            config[k] = v;
        }

        return new Single { Receiver = receiver, App = app, Sidecar = await InProcessSidecar.StartAsync("svc", app.Port, config) };
    }

    [Fact]
    public async Task ZeroPercent_NoSpans_ButHeadersSayNotSampled()
    {
        await using var s = await StartAsync(0);
        Dictionary<string, string>? seen = null;
        for (var i = 0; i < 50; i++)
        {
            seen = await s.SendAsync("/r");
        }

        Assert.Empty(await s.DrainAsync());
        Assert.EndsWith("-00", seen!["traceparent"]);
        Assert.Equal("0", seen["x-b3-sampled"]);
        Assert.Equal('4', seen["x-request-id"][14]);
    }

    [Fact]
    public async Task HundredPercent_EveryRequestHasASpan()
    {
        await using var s = await StartAsync(100);
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add((await s.SendAsync("/r"))["x-request-id"]);
        }

        var spans = await s.DrainAsync();
        Assert.Equal(ids.Order(), spans.Select(x => x.Tag("guid:x-request-id")).Order());
        Assert.All(ids, id => Assert.Equal('9', id[14]));
    }

    [Theory]
    [InlineData("traceparent", "00-" + TraceId + "-" + ParentSpan + "-01")]
    [InlineData("b3", TraceId + "-" + ParentSpan + "-1")]
    [InlineData("b3", TraceId + "-" + ParentSpan + "-d")]
    [InlineData("x-request-id", "84961386-6d84-929d-98bd-c5aee93b5c88")]
    public async Task IncomingSampledDecision_IsHonouredAtZeroPercent(string header, string value)
    {
        await using var s = await StartAsync(0);
        var seen = await s.SendAsync("/r", (header, value));

        var span = Assert.Single(await s.DrainAsync());
        Assert.EndsWith("-01", seen["traceparent"]);
        if (header != "x-request-id")
        {
            Assert.Equal(TraceId, span.TraceId);
            Assert.Equal(ParentSpan, span.ParentSpanId);
        }

        Assert.Equal("parent", span.Tag("meshlite.sampling.reason"));
    }

    [Fact]
    public async Task IncomingB3MultiWithDebugFlag_IsSampledAndStaysDebug()
    {
        await using var s = await StartAsync(0);
        var seen = await s.SendAsync("/r", ("x-b3-traceid", TraceId), ("x-b3-spanid", ParentSpan), ("x-b3-flags", "1"));

        var span = Assert.Single(await s.DrainAsync());
        Assert.Equal(TraceId, span.TraceId);
        Assert.Equal("1", seen["x-b3-flags"]);
        Assert.False(seen.ContainsKey("x-b3-sampled"));
    }

    [Theory]
    [InlineData("traceparent", "00-" + TraceId + "-" + ParentSpan + "-00")]
    [InlineData("b3", "0")]
    [InlineData("b3", TraceId + "-" + ParentSpan + "-0")]
    [InlineData("x-b3-sampled", "0")]
    public async Task IncomingNotSampledDecision_IsHonouredAtHundredPercent(string header, string value)
    {
        await using var s = await StartAsync(100);
        var seen = await s.SendAsync("/r", (header, value), ("x-request-id", "84961386-6d84-929d-98bd-c5aee93b5c88"));

        Assert.Empty(await s.DrainAsync());
        Assert.EndsWith("-00", seen["traceparent"]);
        Assert.Equal("0", seen["x-b3-sampled"]);
        Assert.Equal("84961386-6d84-429d-98bd-c5aee93b5c88", seen["x-request-id"]);
    }

    [Fact]
    public async Task ClientTraceId_ForcesATrace_AndIsTagged()
    {
        await using var s = await StartAsync(0);
        var seen = await s.SendAsync("/r", ("x-client-trace-id", "debug-me-123"), ("traceparent", $"00-{TraceId}-{ParentSpan}-00"));

        var spans = await s.Receiver.WaitForAsync(x => x.Any(y => y.Attributes.GetValueOrDefault("guid:x-client-trace-id") == "debug-me-123"));
        var span = Assert.Single(spans);
        Assert.Equal("forced", span.Tag("meshlite.sampling.reason"));
        Assert.Equal('b', seen["x-request-id"][14]);
        Assert.EndsWith("-01", seen["traceparent"]);
    }

    [Fact]
    public async Task ForceTrace_IsIgnoredAndRemovedInbound_UnlessTrusted()
    {
        await using (var s = await StartAsync(0))
        {
            var seen = await s.SendAsync("/r", ("x-envoy-force-trace", "1"));
            Assert.Empty(await s.DrainAsync());
            Assert.False(seen.ContainsKey("x-envoy-force-trace"));
        }

        await using (var s = await StartAsync(0, ("MeshLite:Tracing:TrustForceTraceFromMesh", "true")))
        {
            var seen = await s.SendAsync("/r", ("x-envoy-force-trace", "1"));
            Assert.Single(await s.DrainAsync());
            Assert.Equal('a', seen["x-request-id"][14]);
        }
    }

    [Fact]
    public async Task ForceTrace_FromTheLocalApp_IsHonouredOutbound()
    {
        await using var s = await StartAsync(0, app => [("MeshLite:Services:b:Endpoints:0", $"http://127.0.0.1:{app.Port}")]);
        var (receiver, a) = (s.Receiver, s.Sidecar);
        using var request = new HttpRequestMessage(HttpMethod.Get, a.OutboundAddress + "/x") { Headers = { Host = "b" } };
        request.Headers.Add("x-envoy-force-trace", "true");
        using var response = await _client.SendAsync(request);

        var span = Assert.Single(await receiver.WaitForAsync(x => x.Count >= 1));
        Assert.Equal(ReceivedSpan.Client, span.Kind);
        Assert.Equal('a', span.Tag("guid:x-request-id")[14]);
    }

    [Fact]
    public async Task RouteOverride_SamplesMatchingPathsOnly()
    {
        await using var s = await StartAsync(0, ("MeshLite:Tracing:Overrides:0:PathPrefix", "/vip"), ("MeshLite:Tracing:Overrides:0:Percentage", "100"));
        await s.SendAsync("/vip/orders");
        await s.SendAsync("/regular");

        var span = Assert.Single(await s.DrainAsync());
        Assert.EndsWith("/vip/orders", span.Tag("http.url"));
        Assert.Equal("override", span.Tag("meshlite.sampling.reason"));
    }

    [Fact]
    public async Task ServiceOverride_SamplesCallsToThatServiceOnly()
    {
        await using var s = await StartAsync(0, app =>
        [
            ("MeshLite:Services:payment:Endpoints:0", $"http://127.0.0.1:{app.Port}"),
            ("MeshLite:Services:inventory:Endpoints:0", $"http://127.0.0.1:{app.Port}"),
            ("MeshLite:Tracing:Overrides:0:Service", "payment"),
            ("MeshLite:Tracing:Overrides:0:Percentage", "100"),
        ]);
        var (receiver, a) = (s.Receiver, s.Sidecar);
        foreach (var host in new[] { "inventory", "payment", "inventory" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, a.OutboundAddress + "/x") { Headers = { Host = host } };
            using var response = await _client.SendAsync(request);
        }

        await receiver.WaitForAsync(x => x.Count >= 1);
        using var forced = new HttpRequestMessage(HttpMethod.Get, a.OutboundAddress + "/x") { Headers = { Host = "inventory" } };
        forced.Headers.Add("x-client-trace-id", "marker");
        await _client.SendAsync(forced);
        var spans = await receiver.WaitForAsync(x => x.Any(y => y.Attributes.ContainsKey("guid:x-client-trace-id")));

        var payment = Assert.Single(spans, x => !x.Attributes.ContainsKey("guid:x-client-trace-id"));
        Assert.Equal("payment.default.svc.cluster.local:80/*", payment.Name);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/healthz/ready")]
    [InlineData("/stats/prometheus")]
    [InlineData("/metrics")]
    public async Task ExcludedPaths_AreNeverTraced_AndGetNoTraceHeaders(string path)
    {
        await using var s = await StartAsync(100);
        var seen = await s.SendAsync(path, ("traceparent", $"00-{TraceId}-{ParentSpan}-01"));

        Assert.Empty(await s.DrainAsync());
        Assert.Equal($"00-{TraceId}-{ParentSpan}-01", seen["traceparent"]);
        Assert.False(seen.ContainsKey("x-b3-traceid"));
    }

    public static TheoryData<string, string> InvalidHeaders => new()
    {
        { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x" },
        { "traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
        { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01" },
        { "traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
        { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01" },
        { "traceparent", "00-" + new string('a', 600) },
        { "b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-x" },
        { "b3", "nothex00nothex00-00f067aa0ba902b7-1" },
        { "x-b3-traceid", "zz" },
        { "x-b3-sampled", "maybe" },
    };

    [Theory]
    [MemberData(nameof(InvalidHeaders))]
    public async Task InvalidContext_StartsANewTrace_AndIsNeverForwarded(string header, string value)
    {
        await using var s = await StartAsync(100);
        var seen = await s.SendAsync("/r", (header, value), ("x-b3-spanid", header == "x-b3-traceid" ? ParentSpan : ""));

        var span = Assert.Single(await s.DrainAsync(), x => x.Tag("http.url").EndsWith("/r"));
        Assert.Equal("", span.ParentSpanId);
        Assert.NotEqual(TraceId, span.TraceId);
        Assert.True(W3CTraceContext.TryParse(seen["traceparent"], out var forwarded));
        Assert.Equal(span.TraceId, forwarded.TraceId.ToString());
        Assert.DoesNotContain(value, string.Join('\n', seen.Values));
    }

    [Fact]
    public async Task DuplicatedTraceParent_IsInvalid_AndB3IsUsedInstead()
    {
        await using var s = await StartAsync(100);
        var seen = await s.SendAsync("/r", ("traceparent", $"00-{TraceId}-{ParentSpan}-01"), ("traceparent", $"00-{TraceId}-{ParentSpan}-01"),
            ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"), ("x-b3-spanid", "a2fb4a1d1a96d312"), ("x-b3-sampled", "1"), ("tracestate", "vendor=1"));

        var span = Assert.Single(await s.DrainAsync());
        Assert.Equal("463ac35c9f6413ad48485a3953bb6124", span.TraceId);
        Assert.Equal("a2fb4a1d1a96d312", span.ParentSpanId);
        Assert.Equal("b3multi", span.Tag("meshlite.trace_context.format"));
        Assert.False(seen.ContainsKey("tracestate"));
    }

    [Fact]
    public async Task B3With64BitTraceId_StaysShortOnB3_AndIsPaddedOnW3C()
    {
        await using var s = await StartAsync(100, ("MeshLite:Tracing:Propagation:0", "w3c"), ("MeshLite:Tracing:Propagation:1", "b3multi"), ("MeshLite:Tracing:Propagation:2", "b3"));
        var seen = await s.SendAsync("/r", ("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2fb4a1d1a96d312"), ("x-b3-sampled", "1"));

        var span = Assert.Single(await s.DrainAsync());
        Assert.Equal("0000000000000000463ac35c9f6413ad", span.TraceId);
        Assert.Equal("463ac35c9f6413ad", seen["x-b3-traceid"]);
        Assert.StartsWith("463ac35c9f6413ad-" + span.SpanId + "-1-a2fb4a1d1a96d312", seen["b3"]);
        Assert.Equal($"00-0000000000000000463ac35c9f6413ad-{span.SpanId}-01", seen["traceparent"]);
    }

    [Fact]
    public async Task OpaqueContextHeaders_PassThroughUntouched()
    {
        await using var s = await StartAsync(100);
        var seen = await s.SendAsync("/r", ("traceparent", $"00-{TraceId}-{ParentSpan}-01"), ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            ("x-ot-span-context", "opaque-lightstep-context"), ("baggage", "userId=alice,isProduction=false"));

        Assert.Equal("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", seen["tracestate"]);
        Assert.Equal("opaque-lightstep-context", seen["x-ot-span-context"]);
        Assert.Equal("userId=alice,isProduction=false", seen["baggage"]);
    }

    [Fact]
    public async Task RequestId_IsGeneratedWhenAbsent_AndKeptWhenPresent()
    {
        await using var s = await StartAsync(0);
        var generated = (await s.SendAsync("/r"))["x-request-id"];
        var foreign = (await s.SendAsync("/r", ("x-request-id", "my-own-request-id")))["x-request-id"];

        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", generated);
        Assert.Equal("my-own-request-id", foreign);
    }

    [Fact]
    public async Task OnePercent_DecidesIdenticallyAtEveryHop_FromTheRequestId()
    {
        await using var mesh = await Mesh.StartChainAsync(["front", "back"], new Dictionary<string, string?> { ["MeshLite:Tracing:Sampling"] = "1" });
        var ids = Enumerable.Range(0, 400).Select(_ => RequestId.Generate()).ToList();
        foreach (var id in ids)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, mesh.EntryAddress + "/r");
            request.Headers.Add("x-request-id", id);
            using var response = await _client.SendAsync(request);
        }

        var expected = ids.Where(id => RequestId.TryGetSamplingValue(id, out var draw) && draw < 100).ToHashSet();
        var marker = RequestId.Generate();
        var forced = new HttpRequestMessage(HttpMethod.Get, mesh.EntryAddress + "/r");
        forced.Headers.Add("x-client-trace-id", marker);
        await _client.SendAsync(forced);
        var spans = await mesh.Receiver.WaitForAsync(x => x.Count(y => y.Attributes.ContainsKey("guid:x-client-trace-id")) >= 3);

        var sampled = spans.Where(x => !x.Attributes.ContainsKey("guid:x-client-trace-id")).GroupBy(x => x.Tag("guid:x-request-id")[..14]).ToList();
        Assert.Equal(expected.Select(id => id[..14]).Order(), sampled.Select(g => g.Key).Order());
        Assert.All(sampled, g => Assert.Equal(3, g.Count()));
    }

    [Theory]
    [InlineData("b3only")]
    [InlineData("w3conly")]
    public async Task CallerSpeakingOneFormat_KeepsOneTraceAcrossHops(string kind)
    {
        string[] b3 = ["x-request-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled"];
        string[] w3c = ["x-request-id", "traceparent", "tracestate"];
        var forwarded = kind == "b3only" ? b3 : w3c;
        await using var mesh = await Mesh.StartChainAsync(["one", "two", "three"], forwardedHeaders: _ => forwarded);

        using var response = await _client.GetAsync(mesh.EntryAddress + "/r");

        var spans = await mesh.Receiver.WaitForAsync(x => x.Count >= 5);
        Assert.Single(spans.Select(x => x.TraceId).Distinct());
        Assert.Single(spans, x => x.ParentSpanId == "");
    }
}
