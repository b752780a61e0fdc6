using System.Net;
using System.Text.Json;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>
/// A chain front → payment → bank where payment's app deliberately breaks propagation in each of the ways apps do;
/// payment's sidecar must name the break, count it, tag and link the CLIENT span, and (in parent mode) heal it.
/// </summary>
public class PropagationBreakTests
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private static Func<HttpContext, IEnumerable<KeyValuePair<string, string>>>? Behaviour(string service, string kind) => service != "payment" ? null : kind switch
    {
        "nothing" => _ => [],
        "requestid-and-b3" => TestApp.Copy(["x-request-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled"]),
        "own-trace" => _ => [KeyValuePair.Create("traceparent", $"00-{Guid.NewGuid():N}-{Guid.NewGuid().ToString("N")[..16]}-01")],
        _ => null,
    };

    private static Task<Mesh> StartAsync(string kind, string stitch = "link") => Mesh.StartChainAsync(["front", "payment", "bank"],
        new Dictionary<string, string?> { ["MeshLite:Tracing:Stitch"] = stitch },
        outgoing: service => Behaviour(service, kind));

    private static async Task<JsonElement> ReportAsync(SidecarProcess sidecar)
    {
        var json = await _client.GetStringAsync($"http://127.0.0.1:{sidecar.AdminPort}/debug/propagation");
        return JsonDocument.Parse(json).RootElement;
    }

    [Theory]
    [InlineData("nothing", "missing", "without traceparent/x-b3-*")]
    [InlineData("own-trace", "mismatch", "with a trace of its own")]
    [InlineData("requestid-and-b3", "partial", "missing traceparent")]
    public async Task BrokenForwarding_IsNamedCountedTaggedAndLinked(string behaviour, string kind, string diagnosis)
    {
        await using var mesh = await StartAsync(behaviour);
        using var response = await _client.GetAsync(mesh.EntryAddress + "/checkout/1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var payment = mesh.Sidecars[1];
        // Every hop's spans: payment's SERVER span ends after its CLIENT span and may come in a later export batch.
        var spans = await mesh.Receiver.WaitForAsync(s => s.Count >= 5, what: "five spans");
        var client = spans.Single(x => x.Service == "payment.default" && x.Kind == ReceivedSpan.Client);
        var server = spans.Single(x => x.Service == "payment.default" && x.Kind == ReceivedSpan.Server);
        Assert.Equal(kind, client.Tag("meshlite.propagation"));
        var noted = Assert.Single(server.Events, e => e.Name == "propagation_break");
        Assert.Equal(("bank", kind), (noted.Attributes["destination"], noted.Attributes["kind"]));
        Assert.Equal("certain", client.Tag("meshlite.stitch.confidence"));
        if (kind == "partial")
        {
            // The trace continued (through B3), only part of the headers were lost: same trace, no link needed.
            Assert.Equal(server.SpanId, client.ParentSpanId);
        }
        else
        {
            Assert.NotEqual(server.TraceId, client.TraceId);
            Assert.Equal((server.TraceId, server.SpanId), Assert.Single(client.Links));
        }

        var metrics = await PrometheusText.ScrapeAsync(payment.MetricsPort);
        var breaks = Assert.Single(metrics, m => m.Name == "meshlite_propagation_breaks_total");
        Assert.Equal((kind, "bank", "certain", 1.0), (breaks["kind"], breaks["destination_service"], breaks["confidence"], breaks.Value));

        var report = (await ReportAsync(payment)).GetProperty("breaks")[0];
        Assert.Equal("GET /checkout", report.GetProperty("inbound_route").GetString());
        Assert.Equal("bank", report.GetProperty("destination").GetString());
        Assert.Equal(1, report.GetProperty(kind).GetInt32());
        Assert.Contains(diagnosis, report.GetProperty("diagnosis").GetString());
        Assert.Single(report.GetProperty("example_request_ids").EnumerateArray());

        // The sidecars of apps that forward correctly see no break.
        var front = await PrometheusText.ScrapeAsync(mesh.Sidecars[0].MetricsPort);
        Assert.DoesNotContain(front, m => m.Name == "meshlite_propagation_breaks_total");
    }

    [Fact]
    public async Task CorrectForwarding_IsNoBreak()
    {
        await using var mesh = await StartAsync("correct");
        using var response = await _client.GetAsync(mesh.EntryAddress + "/checkout/1");

        var spans = await mesh.Receiver.WaitForAsync(s => s.Count >= 5);
        Assert.Single(spans.Select(s => s.TraceId).Distinct());
        Assert.DoesNotContain(spans, s => s.Attributes.ContainsKey("meshlite.propagation"));
        Assert.Empty((await ReportAsync(mesh.Sidecars[1])).GetProperty("breaks").EnumerateArray());
    }

    [Fact]
    public async Task ConcurrentTraffic_AttributesEveryBreak_WithHonestConfidence()
    {
        await using var mesh = await StartAsync("nothing");
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            using var response = await _client.GetAsync(mesh.EntryAddress + "/checkout/" + i);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }));

        var metrics = await PrometheusText.ScrapeAsync(mesh.Sidecars[1].MetricsPort);
        var breaks = metrics.Where(m => m.Name == "meshlite_propagation_breaks_total").ToList();
        Assert.Equal(16, breaks.Sum(b => b.Value));
        Assert.All(breaks, b => Assert.Equal("missing", b["kind"]));
        Assert.All(breaks, b => Assert.Contains(b["confidence"], new[] { "certain", "likely", "ambiguous" }));
    }

    [Fact]
    public async Task CallsWithNoRequestInFlight_AreUnattributed_NotBreaks()
    {
        await using var mesh = await StartAsync("nothing");
        var payment = mesh.Sidecars[1];

        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{payment.OutboundPort}/cron") { Headers = { Host = "bank" } };
        using var response = await _client.SendAsync(request);

        var report = await ReportAsync(payment);
        Assert.Equal(1, report.GetProperty("unattributed_calls").GetInt32());
        Assert.Empty(report.GetProperty("breaks").EnumerateArray());
    }

    [Fact]
    public async Task ParentMode_HealsACertainBreak_IntoOneTrace()
    {
        await using var mesh = await StartAsync("nothing", stitch: "parent");
        using var response = await _client.GetAsync(mesh.EntryAddress + "/checkout/1");

        var spans = await mesh.Receiver.WaitForAsync(s => s.Count >= 5, what: "5 spans");
        Assert.Single(spans.Select(s => s.TraceId).Distinct());
        var server = spans.Single(x => x.Service == "payment.default" && x.Kind == ReceivedSpan.Server);
        var client = spans.Single(x => x.Service == "payment.default" && x.Kind == ReceivedSpan.Client);
        Assert.Equal(server.SpanId, client.ParentSpanId);
        Assert.Equal("parent", client.Tag("meshlite.stitched"));
        Assert.Equal("missing", client.Tag("meshlite.propagation"));
        var bank = spans.Single(x => x.Service == "bank.default");
        Assert.Equal(client.SpanId, bank.ParentSpanId);
        Assert.Equal(server.Tag("guid:x-request-id"), bank.Tag("guid:x-request-id"));
    }
}
