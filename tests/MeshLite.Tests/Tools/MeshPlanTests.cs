using MeshLite.Tests;

namespace MeshLite.Tools.Tests;

public class MeshPlanTests
{
    private static string CheckoutFile() => RepositoryFile.Find("config", "mesh", "checkout.json");

    [Fact]
    public void Create_GivesEveryServiceItsOwnFreePorts_AndEachSidecarTheOthersAsItsRegistry()
    {
        var plan = MeshPlan.Create(MeshFile.Load(CheckoutFile()));

        Assert.Equal(["api-gateway", "bank-api", "frontend", "inventory", "payment"], plan.Ports.Keys.Order(StringComparer.Ordinal));
        var allPorts = plan.Ports.Values.SelectMany(p => new[] { p.Inbound, p.Outbound, p.Admin, p.Metrics, p.App }).ToList();
        Assert.Equal(allPorts.Count, allPorts.Distinct().Count());
        Assert.Equal($"http://127.0.0.1:{plan.Ports["frontend"].Inbound}/checkout", plan.Entry);

        var gateway = plan.SidecarSettings("api-gateway", "http://127.0.0.1:4317");
        Assert.Equal($"http://127.0.0.1:{plan.Ports["payment"].Inbound}", gateway["Services:payment:Endpoints:0"]);
        Assert.False(gateway.ContainsKey("Services:api-gateway:Endpoints:0"));
        Assert.Equal("true", gateway["DemoApp:Parallel"]);
        Assert.Equal("payment", gateway["DemoApp:Calls:0"]);
        Assert.Equal("1", gateway["Tracing:Sampling"]);
        Assert.Equal("http://127.0.0.1:4317", gateway["Tracing:Otlp:Endpoint"]);
        Assert.Equal(plan.Ports["api-gateway"].App.ToString(System.Globalization.CultureInfo.InvariantCulture), gateway["Inbound:AppPort"]);
    }
}
