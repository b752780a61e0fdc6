using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite mesh [file]</c>: brings up a whole mesh on this machine — each service's app and a MeshLite beside it,
/// on free ports, each sidecar's registry wired to the others, the apps' outbound traffic through their sidecar — starts
/// a trace UI (the .NET Aspire Dashboard, unless an OTLP endpoint is given), sends a trickle of traffic, and stops
/// everything on Ctrl+C.
/// </summary>
internal sealed class MeshRunner
{
    public const string Usage = """
        meshlite mesh [config/mesh/checkout.json] [--otlp-endpoint http://127.0.0.1:4317] [--dashboard-port 18888]
                      [--traffic-rate 2] [--duration 10m] [--logs <dir>]
        """;

    private readonly List<(string Name, Process Process)> _processes = [];
    private readonly TextWriter _output;

    private MeshRunner(TextWriter output) => _output = output;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, CancellationToken cancellationToken)
    {
        var runner = new MeshRunner(output);
        try
        {
            return await runner.RunAsync(new CommandLineArgs(arguments), cancellationToken);
        }
        catch (MeshStartException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 1;
        }
        finally
        {
            await runner.StopAllAsync();
        }
    }

    private async Task<int> RunAsync(CommandLineArgs args, CancellationToken cancellationToken)
    {
        var file = args.Positional.FirstOrDefault() ?? Path.Combine("config", "mesh", "checkout.json");
        var mesh = MeshFile.Load(file);
        var logs = args.Get("logs") ?? Path.Combine(Path.GetTempPath(), "meshlite-mesh-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(logs);

        var otlp = args.Get("otlp-endpoint") ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        string? dashboard = null;
        if (string.IsNullOrEmpty(otlp))
        {
            (dashboard, otlp) = await StartDashboardAsync(args.Int("dashboard-port", 18888), logs, cancellationToken);
        }

        Dictionary<string, ServicePorts> ports;
        using (var free = new FreePorts())
        {
            ports = mesh.Services.Keys.ToDictionary(name => name, _ => new ServicePorts(free.Next(), free.Next(), free.Next(), free.Next(), free.Next()));
        }

        foreach (var (name, service) in mesh.Services)
        {
            var p = ports[name] = ports[name] with { App = service.Port ?? ports[name].App };
            if (service.Command is { } command)
            {
                StartUserApp(name, command, p, logs);
            }

            StartSidecar(name, service, mesh, ports, otlp!, logs);
        }

        foreach (var (name, p) in ports)
        {
            await WaitReadyAsync(name, p.Admin, logs, cancellationToken);
        }

        var entry = $"http://127.0.0.1:{ports[mesh.Entry!].Inbound}{mesh.EntryPath}";
        await _output.WriteLineAsync($"MeshLite mesh '{Path.GetFileNameWithoutExtension(file)}' is up:");
        await _output.WriteLineAsync($"  {"service",-16} {"inbound",8} {"outbound",9} {"app",6} {"admin",6} {"metrics",8}");
        foreach (var (name, p) in ports)
        {
            await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {name,-16} {p.Inbound,8} {p.Outbound,9} {p.App,6} {p.Admin,6} {p.Metrics,8}"));
        }

        await _output.WriteLineAsync($"Entry: {entry}");
        await _output.WriteLineAsync(dashboard is null ? $"Traces: sent to {otlp}" : $"Dashboard: {dashboard}  (traces: {dashboard}/traces)");
        await _output.WriteLineAsync($"Logs: {logs}");
        await _output.WriteLineAsync($"More traffic: meshlite load --url {entry} -n 200");
        await _output.WriteLineAsync("Ctrl+C stops everything.");

        var rate = args.Double("traffic-rate", mesh.TrafficRate);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (args.Get("duration") is not null)
        {
            stop.CancelAfter(args.Duration("duration", TimeSpan.Zero));
        }

        await SendTrafficAsync(new Uri(entry), rate, stop.Token);
        await _output.WriteLineAsync("Stopping the mesh.");
        return 0;
    }

    private async Task<(string Ui, string Otlp)> StartDashboardAsync(int uiPort, string logs, CancellationToken cancellationToken)
    {
        var executable = AspireDashboard.Find()
            ?? throw new MeshStartException("The Aspire Dashboard was not found in the NuGet package folder; build the project once "
                + "(dotnet build src/MeshLite restores it), or pass --otlp-endpoint to send traces elsewhere.");
        int grpc, http;
        using (var free = new FreePorts())
        {
            if (uiPort == 0 || !IsFree(uiPort))
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
        Start("aspire-dashboard", start, logs);

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
                throw new MeshStartException($"The Aspire Dashboard did not answer on {ui} within 60 s ({ex.Message}); see {Path.Combine(logs, "aspire-dashboard.log")}.");
            }
        }

        return (ui, $"http://127.0.0.1:{grpc}");
    }

    private void StartUserApp(string name, string command, ServicePorts ports, string logs)
    {
        var outbound = $"http://127.0.0.1:{ports.Outbound}";
        var start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", command.Replace("{port}", ports.App.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal).Replace("{outbound}", outbound, StringComparison.Ordinal) } };
        start.Environment["PORT"] = ports.App.ToString(CultureInfo.InvariantCulture);
        start.Environment["HTTP_PROXY"] = outbound;
        start.Environment["http_proxy"] = outbound;
        start.Environment["NO_PROXY"] = "localhost";
        start.Environment["MESHLITE_OUTBOUND"] = outbound;
        Start(name + "-app", start, logs);
    }

    private void StartSidecar(string name, MeshService service, MeshFile mesh, Dictionary<string, ServicePorts> ports, string otlp, string logs)
    {
        var p = ports[name];
        var c = CultureInfo.InvariantCulture;
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ServiceName"] = name,
            ["PodName"] = name + "-0",
            ["PodIp"] = "127.0.0.1",
            ["Inbound:Port"] = p.Inbound.ToString(c),
            ["Inbound:BindAddress"] = "127.0.0.1",
            ["Inbound:AppPort"] = p.App.ToString(c),
            ["Outbound:Port"] = p.Outbound.ToString(c),
            ["Admin:Port"] = p.Admin.ToString(c),
            ["Metrics:Port"] = p.Metrics.ToString(c),
            ["Metrics:BindAddress"] = "127.0.0.1",
            ["Tracing:Otlp:Endpoint"] = otlp,
            ["Tracing:Otlp:ScheduledDelayMilliseconds"] = "500",

            // No load balancer routes to a local mesh, so nobody needs the drain period: Ctrl+C stops it at once.
            ["TerminationDrainDuration"] = "00:00:00",
        };
        foreach (var (other, op) in ports.Where(o => o.Key != name))
        {
            settings[$"Services:{other}:Endpoints:0"] = $"http://127.0.0.1:{op.Inbound}";
        }

        if (service.App is { } app)
        {
            settings["DemoApp:Port"] = p.App.ToString(c);
            settings["DemoApp:LatencyMs"] = app.LatencyMs.ToString(c);
            settings["DemoApp:LatencyJitterMs"] = app.LatencyJitterMs.ToString(c);
            settings["DemoApp:ErrorRate"] = app.ErrorRate.ToString(c);
            settings["DemoApp:ErrorStatus"] = app.ErrorStatus.ToString(c);
            settings["DemoApp:Parallel"] = app.Parallel ? "true" : "false";
            settings["DemoApp:ForwardHeaders"] = app.ForwardHeaders ? "true" : "false";
            if (app.ResponseBytes is int bytes)
            {
                settings["DemoApp:ResponseBytes"] = bytes.ToString(c);
            }

            for (var i = 0; i < app.Calls.Count; i++)
            {
                settings[$"DemoApp:Calls:{i}"] = app.Calls[i];
            }
        }

        foreach (var (key, value) in mesh.Sidecar.Concat(service.Sidecar))
        {
            settings[key] = value;
        }

        var (file, prefix) = SelfCommand();
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
        Start(name, start, logs);
    }

    /// <summary>How to start this same program: the native or apphost binary, or <c>dotnet MeshLite.dll</c>.</summary>
    internal static (string File, string[] Prefix) SelfCommand()
    {
        var self = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? (self, [Path.Combine(AppContext.BaseDirectory, "MeshLite.dll")])
            : (self, []);
    }

    private void Start(string name, ProcessStartInfo start, string logs)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + name);
        var log = new StreamWriter(Path.Combine(logs, name + ".log")) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    log.WriteLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add((name, process));
    }

    private async Task WaitReadyAsync(string name, int adminPort, string logs, CancellationToken cancellationToken)
    {
        using var client = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var process = _processes.First(p => p.Name == name).Process;
            if (process.HasExited)
            {
                await process.WaitForExitAsync(cancellationToken); // drains its output into the log
                var log = Path.Combine(logs, name + ".log");
                throw new MeshStartException($"The mesh did not start: {name}'s MeshLite exited with code {process.ExitCode}; {log} ends:{Environment.NewLine}{Tail(log, 20)}");
            }

            try
            {
                using var response = await client.GetAsync($"http://127.0.0.1:{adminPort}/healthz/ready", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new MeshStartException($"The mesh did not start: {name}'s MeshLite was not ready within 60 s; see {Path.Combine(logs, name + ".log")}.");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static string Tail(string path, int lines)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(Environment.NewLine, all.TakeLast(lines));
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

    private async Task StopAllAsync()
    {
        foreach (var (_, process) in _processes)
        {
            if (!process.HasExited)
            {
                using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            }
        }

        foreach (var (_, process) in _processes)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
        }

        _processes.Clear();
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed class MeshStartException(string message) : Exception(message);

    private sealed record ServicePorts(int Inbound, int Outbound, int Admin, int Metrics, int App);

    /// <summary>
    /// Hands out ports the kernel says are free, holding each one until disposed so that no two handed out are the same
    /// (a port released at once can be handed out again by the next bind to port 0).
    /// </summary>
    private sealed class FreePorts : IDisposable
    {
        private readonly List<TcpListener> _held = [];

        public int Next()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            _held.Add(listener);
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public void Dispose()
        {
            foreach (var listener in _held)
            {
                listener.Dispose();
            }
        }
    }
}

/// <summary>The standalone .NET Aspire Dashboard that the project restores from NuGet (Aspire.Dashboard.Sdk.linux-x64).</summary>
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
}
