using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

/// <summary>
/// The demo mesh from its Istio folder (<c>meshlite mesh --istio config/mesh/istio</c>), end to end: no MeshLite fault
/// or sampling key anywhere, yet bank-api's delay and 503s are injected by payment's sidecar as the VirtualService
/// says (<c>DI</c>, <c>FI</c>), every exported span carries the Telemetry's custom tag, the Sidecar's REGISTRY_ONLY and
/// the ServiceEntry shape the registry, and each sidecar's <c>/config_dump</c> names the resources.
/// </summary>
public class IstioMeshTests
{
    [Fact]
    public async Task DemoMesh_FromTheIstioFolder_FaultsOnTheCallersSide_CustomTagOnEverySpan_RegistryFromTheResources()
    {
        // The demo's folder, with bank-api's aborts raised from 5 % to 50 % so that 30 requests surely include some.
        var folder = Directory.CreateTempSubdirectory("meshlite-istio-demo-").FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "config", "mesh", "istio")))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        var faults = Path.Combine(folder, "bank-api.yaml");
        var text = File.ReadAllText(faults);
        Assert.Contains("          value: 5\n", text);
        File.WriteAllText(faults, text.Replace("          value: 5\n", "          value: 50\n", StringComparison.Ordinal));
        Assert.DoesNotContain("Fault", File.ReadAllText(Path.Combine(folder, "mesh.json")));

        await using var receiver = await OtlpReceiver.StartAsync();
        await using var mesh = await SidecarProcess.StartMeshAsync(null, "--istio", folder, "--otlp-endpoint", receiver.GrpcEndpoint);
        var entry = mesh.Match(@"Entry: (\S+)");
        int Port(string service, int column) => int.Parse(mesh.Match($@"^\s+{Regex.Escape(service)}\s+((?:\d+\s+){{{column}}}\d+)").Split(' ', StringSplitOptions.RemoveEmptyEntries)[column]);

        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync(entry);
            statuses.Add(response.StatusCode);
        }

        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(statuses, s => s != HttpStatusCode.OK);

        // At 1 % (the Telemetry's), the failed requests are kept: payment's call to bank-api was delayed, then aborted, by
        // payment's own sidecar — and bank-api's sidecar never saw those calls.
        var spans = await receiver.WaitForAsync(s => s.Any(IsAbortedBankCall), TimeSpan.FromSeconds(60), "payment's aborted call to bank-api");
        var aborted = spans.First(IsAbortedBankCall);
        Assert.Equal("503", aborted.Tag("http.status_code"));
        Assert.Equal("outbound|80||bank-api.default.svc.cluster.local", aborted.Tag("upstream_cluster"));
        Assert.DoesNotContain(spans, s => s.TraceId == aborted.TraceId && s.Service == "bank-api.default");
        Assert.All(spans, s => Assert.Equal("checkout-demo", s.Tag("mesh")));

        // Each sidecar says where its settings came from.
        var dump = JsonNode.Parse(await client.GetStringAsync($"http://127.0.0.1:{Port("payment", 3)}/config_dump"))!;
        var settings = dump["istio"]!["settings"]!;
        Assert.Equal("Telemetry istio-system/mesh-default", (string?)settings["Tracing:Sampling"]);
        Assert.Equal("VirtualService default/bank-api", (string?)settings["Services:bank-api:Routes"]);
        Assert.Equal("ServiceEntry default/exchange-api", (string?)settings["Services:api.exchange.example.com"]);
        Assert.Equal("Sidecar default/default", (string?)settings["OutboundTrafficPolicy"]);
        Assert.Equal(1.0, (double)dump["meshlite"]!["Tracing"]!["Sampling"]!);
        var clusters = await client.GetStringAsync($"http://127.0.0.1:{Port("payment", 3)}/clusters");
        Assert.Contains("outbound|80||api.exchange.example.com", clusters, StringComparison.Ordinal);

        // REGISTRY_ONLY (the Sidecar resource): a host nobody registered gets the black hole's 502.
        using var unknown = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{Port("frontend", 1)}/") { Headers = { Host = "unknown.example.com" } };
        using var blocked = await client.SendAsync(unknown);
        Assert.Equal(HttpStatusCode.BadGateway, blocked.StatusCode);

        var pids = await mesh.StopAndCollectChildrenAsync();
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} outlived the mesh"));
    }

    private static bool IsAbortedBankCall(ReceivedSpan span) =>
        span.Service == "payment.default" && span.Kind == ReceivedSpan.Client && span.Name.StartsWith("bank-api.", StringComparison.Ordinal)
        && span.Attributes.TryGetValue("response_flags", out var flags) && flags.Split(',').Contains("FI") && flags.Split(',').Contains("DI");
}
