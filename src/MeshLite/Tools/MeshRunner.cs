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
    public const string Usage = """
        meshlite mesh [config/mesh/checkout.json] [--otlp-endpoint http://127.0.0.1:4317] [--dashboard-port 18888]
                      [--traffic-rate 2] [--duration 10m] [--logs <dir>]
        """;

    private readonly TextWriter _output;

    private MeshRunner(TextWriter output) => _output = output;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            var args = new CommandLineArgs(arguments);
            var file = args.Positional.FirstOrDefault() ?? Path.Combine("config", "mesh", "checkout.json");
            var plan = MeshPlan.Create(MeshFile.Load(file));
            var logs = args.Get("logs") ?? Path.Combine(Path.GetTempPath(), "meshlite-mesh-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(logs);
            await using var processes = new ProcessSupervisor(logs);
            return await new MeshRunner(output).RunAsync(args, processes, plan, file, cancellationToken);
        }
        catch (MeshStartException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 1;
        }
    }

    private async Task<int> RunAsync(CommandLineArgs args, ProcessSupervisor processes, MeshPlan plan, string file, CancellationToken cancellationToken)
    {
        var otlp = args.Get("otlp-endpoint") ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        string? dashboard = null;
        if (string.IsNullOrEmpty(otlp))
        {
            (dashboard, otlp) = await AspireDashboard.StartAsync(processes, args.Int("dashboard-port", 18888), cancellationToken);
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
        await _output.WriteLineAsync($"MeshLite mesh '{Path.GetFileNameWithoutExtension(file)}' is up:");
        await _output.WriteLineAsync($"  {"service",-16} {"inbound",8} {"outbound",9} {"app",6} {"admin",6} {"metrics",8}");
        foreach (var (name, p) in plan.Ports)
        {
            await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {name,-16} {p.Inbound,8} {p.Outbound,9} {p.App,6} {p.Admin,6} {p.Metrics,8}"));
        }

        await _output.WriteLineAsync($"Entry: {entry}");
        await _output.WriteLineAsync(dashboard is null ? $"Traces: sent to {otlp}" : $"Dashboard: {dashboard}  (traces: {dashboard}/traces)");
        await _output.WriteLineAsync($"Logs: {processes.Logs}");
        await _output.WriteLineAsync($"More traffic: meshlite load --url {entry} -n 200");
        await _output.WriteLineAsync("Ctrl+C stops everything.");

        var rate = args.Double("traffic-rate", plan.Mesh.TrafficRate);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (args.Get("duration") is not null)
        {
            stop.CancelAfter(args.Duration("duration", TimeSpan.Zero));
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
