using System.CommandLine;
using System.Diagnostics;
using System.Globalization;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite mesh [file]</c>: brings up a whole mesh on this machine — each service's app and a MeshLite beside it,
/// on free ports, each sidecar's registry wired to the others, the apps' outbound traffic through their sidecar — starts
/// a trace UI (the .NET Aspire Dashboard, unless an OTLP endpoint is given), sends a trickle of traffic, and stops
/// everything on Ctrl+C. The plan (<see cref="MeshPlan"/>), the processes (<see cref="ProcessSupervisor"/>) and the
/// trace UI (<see cref="AspireDashboard"/>) are their own classes; this one puts them in order.
/// </summary>
internal sealed class MeshRunner
{
    private readonly TextWriter _output;

    private MeshRunner(TextWriter output) => _output = output;

    /// <summary>What <c>meshlite mesh</c> was asked for.</summary>
    private sealed record MeshArguments(string File, string? Istio, string? OtlpEndpoint, int DashboardPort, double? TrafficRate, TimeSpan? Duration, string? Logs);

    public static Command Create(TextWriter output)
    {
        var file = new Argument<string?>("file")
        {
            Description = "The mesh: its services and their apps (default: mesh.json in the --istio folder, else config/mesh/checkout.json).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var istio = new Option<DirectoryInfo>("--istio")
        {
            Description = "A folder of Istio resources every sidecar applies (Telemetry, VirtualService, ServiceEntry, Sidecar, mesh config).",
            HelpName = "folder",
        };
        istio.AcceptExistingOnly();
        var otlp = new Option<string?>("--otlp-endpoint") { Description = "Send spans here instead of starting the Aspire Dashboard (default: OTEL_EXPORTER_OTLP_ENDPOINT)." };
        var dashboardPort = CommandLine.Whole("--dashboard-port", 18888, 0, 65535, "The Aspire Dashboard's port (0: a free one).");
        var rate = new Option<double?>("--traffic-rate") { Description = "Requests per second to the entry service (default: the file's trafficRate; 0: none)." };
        var duration = CommandLine.OptionalDuration("--duration", "Stop after this long (default: at Ctrl+C).");
        var logs = new Option<string?>("--logs") { Description = "Where each process's log goes (default: a new temporary folder).", HelpName = "dir" };
        var command = new Command("mesh", "Run a whole mesh on this machine: each service's app with a MeshLite beside it, a trace UI and a trickle of traffic; Ctrl+C stops it.")
        {
            file, istio, otlp, dashboardPort, rate, duration, logs,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var folder = result.GetValue(istio)?.FullName;
            var meshFile = result.GetValue(file)
                ?? (folder is not null && File.Exists(Path.Combine(folder, "mesh.json")) ? Path.Combine(folder, "mesh.json") : Path.Combine("config", "mesh", "checkout.json"));
            return RunAsync(new MeshArguments(meshFile, folder, result.GetValue(otlp), result.GetValue(dashboardPort), result.GetValue(rate), result.GetValue(duration),
                result.GetValue(logs)), output, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(MeshArguments args, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            var plan = MeshPlan.Create(MeshFile.Load(args.File), args.Istio);
            var logs = args.Logs ?? Path.Combine(Path.GetTempPath(), "meshlite-mesh-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(logs);
            await using var processes = new ProcessSupervisor(logs);
            return await new MeshRunner(output).RunAsync(args, processes, plan, cancellationToken);
        }
        catch (MeshStartException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 1;
        }
    }

    private async Task<int> RunAsync(MeshArguments args, ProcessSupervisor processes, MeshPlan plan, CancellationToken cancellationToken)
    {
        var otlp = args.OtlpEndpoint ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        string? dashboard = null;
        if (string.IsNullOrEmpty(otlp))
        {
            (dashboard, otlp) = await AspireDashboard.StartAsync(processes, args.DashboardPort, cancellationToken);
        }

        foreach (var (name, service) in plan.Mesh.Services)
        {
            if (service.Command is { } command)
            {
                processes.Start(name + "-app", plan.UserApp(name, command));
            }

            processes.Start(name, SidecarProcess(plan.SidecarSettings(name, otlp!)));
        }

        foreach (var (name, p) in plan.Ports)
        {
            await processes.WaitReadyAsync(name, p.Admin, cancellationToken);
        }

        var entry = plan.Entry;

        // A folder's mesh.json (as config/mesh/istio/) is named after its folder.
        var meshName = Path.GetFileNameWithoutExtension(args.File) is var file && file == "mesh" ? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(args.File))) : file;
        await _output.WriteLineAsync($"MeshLite mesh '{meshName}' is up:");
        await _output.WriteLineAsync($"  {"service",-16} {"inbound",8} {"outbound",9} {"app",6} {"admin",6} {"metrics",8}");
        foreach (var (name, p) in plan.Ports)
        {
            await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {name,-16} {p.Inbound,8} {p.Outbound,9} {p.App,6} {p.Admin,6} {p.Metrics,8}"));
        }

        await _output.WriteLineAsync($"Entry: {entry}");
        if (args.Istio is { } istio)
        {
            await _output.WriteLineAsync($"Istio resources: {istio} (what each sidecar took from them: /config_dump on its admin port)");
        }

        await _output.WriteLineAsync(dashboard is null ? $"Traces: sent to {otlp}" : $"Dashboard: {dashboard}  (traces: {dashboard}/traces)");
        await _output.WriteLineAsync($"Logs: {processes.Logs}");
        await _output.WriteLineAsync($"More traffic: meshlite load --url {entry} -n 200");
        await _output.WriteLineAsync("Ctrl+C stops everything.");

        var rate = args.TrafficRate ?? plan.Mesh.TrafficRate;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (args.Duration is { } duration)
        {
            stop.CancelAfter(duration);
        }

        await SendTrafficAsync(new Uri(entry), rate, stop.Token);
        await _output.WriteLineAsync("Stopping the mesh.");
        return 0;
    }

    private static ProcessStartInfo SidecarProcess(Dictionary<string, string> settings)
    {
        var (file, prefix) = ProcessSupervisor.SelfCommand();
        var start = new ProcessStartInfo(file);
        foreach (var arg in prefix)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--MeshLite:{key}={value}");
        }

        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        return start;
    }

    private static async Task SendTrafficAsync(Uri entry, double rate, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null }) { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            if (rate <= 0)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / rate));
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                _ = client.GetAsync(entry, cancellationToken).ContinueWith(t => t.Exception?.Handle(_ => true), TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
