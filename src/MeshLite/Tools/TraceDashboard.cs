using System.Diagnostics;

namespace MeshLite.Tools;

/// <summary>The trace UI of a local mesh: the standalone .NET Aspire Dashboard that the project restores from NuGet (Aspire.Dashboard.Sdk.linux-x64).</summary>
internal static class AspireDashboard
{
    public const string Package = "aspire.dashboard.sdk.linux-x64";

    public static string? Find()
    {
        var roots = new[]
        {
            Environment.GetEnvironmentVariable("NUGET_PACKAGES"),
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        };
        foreach (var root in roots.Where(r => !string.IsNullOrEmpty(r)))
        {
            var package = Path.Combine(root!, Package);
            if (!Directory.Exists(package))
            {
                continue;
            }

            foreach (var version in Directory.GetDirectories(package).OrderByDescending(v => v, StringComparer.Ordinal))
            {
                var executable = Path.Combine(version, "tools", "Aspire.Dashboard");
                if (File.Exists(executable))
                {
                    if (!OperatingSystem.IsWindows())
                    {
                        // NuGet does not keep the executable bit.
                        File.SetUnixFileMode(executable, File.GetUnixFileMode(executable) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute);
                    }

                    return executable;
                }
            }
        }

        return null;
    }

    /// <summary>Starts the dashboard on free ports and waits for its page; returns the page's address and its OTLP/gRPC endpoint.</summary>
    public static async Task<(string Ui, string Otlp)> StartAsync(ProcessSupervisor processes, int uiPort, CancellationToken cancellationToken)
    {
        var executable = AspireDashboard.Find()
            ?? throw new MeshStartException("The Aspire Dashboard was not found in the NuGet package folder; build the project once "
                + "(dotnet build src/MeshLite restores it), or pass --otlp-endpoint to send traces elsewhere.");
        int grpc, http;
        using (var free = new FreePorts())
        {
            if (uiPort == 0 || !LoopbackPort.IsFree(uiPort))
            {
                uiPort = free.Next();
            }

            (grpc, http) = (free.Next(), free.Next());
        }

        var ui = $"http://127.0.0.1:{uiPort}";
        var start = new ProcessStartInfo(executable) { WorkingDirectory = Path.GetDirectoryName(executable)! };
        start.Environment["ASPNETCORE_URLS"] = ui;
        start.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{grpc}";
        start.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = $"http://127.0.0.1:{http}";
        start.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        start.Environment["DOTNET_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        processes.Start("aspire-dashboard", start);

        using var client = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var response = await client.GetAsync(ui, cancellationToken);
                break;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                throw new MeshStartException($"The Aspire Dashboard did not answer on {ui} within 60 s ({ex.Message}); see {Path.Combine(processes.Logs, "aspire-dashboard.log")}.");
            }
        }

        return (ui, $"http://127.0.0.1:{grpc}");
    }
}
