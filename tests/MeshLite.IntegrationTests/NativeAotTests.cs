using System.Net;
using MeshLite.IntegrationTests.Common;

namespace MeshLite.IntegrationTests;

/// <summary>The shipped sidecar is the Native AOT build: it must publish without trimming/AOT warnings, start, and proxy.</summary>
public class NativeAotTests
{
    [Fact]
    public async Task AotBinary_PublishesWithoutWarnings_StartsAndProxiesATracedRequest()
    {
        var clang = RequiredTools.RequireClang();
        var output = Path.Combine(Path.GetTempPath(), "meshlite-aot-" + Guid.NewGuid().ToString("N"));
        var args = new List<string>
        {
            "publish", Path.Combine(Repository.Root, "src", "MeshLite", "MeshLite.csproj"),
            "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", output,
        };
        if (Path.GetFileName(clang) != "clang")
        {
            args.Add("-p:CppCompilerAndLinker=" + Path.GetFileName(clang));
        }

        try
        {
            var (exitCode, log) = await Repository.RunAsync("dotnet", args, TimeSpan.FromMinutes(10));
            Assert.True(exitCode == 0, log);
            Assert.DoesNotMatch(@"warning (IL\d+|CS\d+)", log);

            await using var app = await TestApp.StartEchoAsync("native");
            // Configured by environment variables only, as in the container image.
            var environment = TracingTests.Config("native", null, ("MeshLite:Inbound:AppPort", app.Port.ToString()))
                .Where(kv => kv.Value is not null)
                .ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value!);
            await using var sidecar = await SidecarProcess.StartAsync(new Dictionary<string, string?>(), Path.Combine(output, "MeshLite"), environment);
            using var client = new HttpClient();
            using var response = await client.GetAsync($"http://127.0.0.1:{sidecar.InboundPort}/aot");
            var traces = "";
            for (var deadline = DateTime.UtcNow.AddSeconds(10); !traces.Contains("native.default.svc.cluster.local:80/*", StringComparison.Ordinal) && DateTime.UtcNow < deadline; await Task.Delay(50))
            {
                traces = await client.GetStringAsync($"http://127.0.0.1:{sidecar.AdminPort}/debug/traces");
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("native", await response.Content.ReadAsStringAsync());
            Assert.Equal("istio-envoy", response.Headers.Server.ToString());
            Assert.Contains("native.default.svc.cluster.local:80/*", traces);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
