using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MeshLite.IntegrationTests.Common;

/// <summary>
/// A MeshLite sidecar as its own process (the built MeshLite.dll, or a published native binary), configured on the
/// command line with every listener on port 0; the ports are read from its start-up log. One process per sidecar keeps
/// each sidecar's tracer to its own spans, as in a real mesh.
/// </summary>
public sealed partial class SidecarProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, int> _ports = new();

    private SidecarProcess(Process process) => _process = process;

    public int InboundPort => _ports["Inbound"];
    public int OutboundPort => _ports["Outbound"];
    public int AdminPort => _ports["Admin"];
    public int MetricsPort => _ports["Metrics"];
    public IReadOnlyList<string> Lines => [.. _output];
    public string Output => string.Join('\n', _output);
    public int ProcessId => _process.Id;

    /// <param name="blockedStdout">Pipe stdout into a process that never reads it, so writes to stdout block once the pipe is full.</param>
    /// <param name="leadingArguments">Arguments before the configuration, e.g. a subcommand (<c>target</c>).</param>
    public static async Task<SidecarProcess> StartAsync(IDictionary<string, string?> config, string? executable = null,
        IDictionary<string, string>? environment = null, bool blockedStdout = false, IReadOnlyList<string>? leadingArguments = null)
    {
        var start = executable is null
            ? new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(AppContext.BaseDirectory, "MeshLite.dll") } }
            : new ProcessStartInfo(executable);
        if (blockedStdout)
        {
            var command = new[] { start.FileName }.Concat(start.ArgumentList).ToList();
            start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "\"$0\" \"$@\" | sleep 600" } };
            foreach (var part in command)
            {
                start.ArgumentList.Add(part);
            }
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (var name in new[] { "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "POD_NAME", "POD_NAMESPACE", "INSTANCE_IP" })
        {
            start.Environment.Remove(name);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        foreach (var argument in leadingArguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        // Tests stop sidecars often; only the drain tests wait out Istio's 5 s.
        if (!config.ContainsKey("MeshLite:TerminationDrainDuration"))
        {
            start.ArgumentList.Add("--MeshLite:TerminationDrainDuration=00:00:00");
        }

        foreach (var (key, value) in config)
        {
            if (value is not null)
            {
                start.ArgumentList.Add($"--{key}={value}");
            }
        }

        var process = Process.Start(start)!;
        var sidecar = new SidecarProcess(process);
        process.OutputDataReceived += (_, e) => sidecar.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => sidecar.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            // Let the output readers reach the end, so the message holds everything the process printed.
            process.WaitForExit();
            sidecar._ready.TrySetException(new InvalidOperationException("MeshLite exited during start-up:\n" + sidecar.Output));
        };

        var finished = await Task.WhenAny(sidecar._ready.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        if (finished != sidecar._ready.Task)
        {
            await sidecar.DisposeAsync();
            throw new TimeoutException("MeshLite did not start:\n" + sidecar.Output);
        }

        await sidecar._ready.Task;
        return sidecar;
    }

    /// <summary>Starts <c>meshlite mesh</c> on a mesh file with every port chosen free, and waits until it says it is up.</summary>
    public static async Task<SidecarProcess> StartMeshAsync(string? meshFile, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "MeshLite.dll"), "mesh", "--dashboard-port", "0", "--traffic-rate", "0", "--duration", "5m" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (meshFile is not null)
        {
            start.ArgumentList.Add(meshFile);
        }

        foreach (var arg in extra)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        var process = Process.Start(start)!;
        var mesh = new SidecarProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            mesh.OnLine(e.Data);
            if (e.Data?.StartsWith("Ctrl+C stops everything", StringComparison.Ordinal) == true)
            {
                mesh._ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) => mesh.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            process.WaitForExit();
            mesh._ready.TrySetException(new InvalidOperationException("meshlite mesh exited:\n" + mesh.Output));
        };
        if (await Task.WhenAny(mesh._ready.Task, Task.Delay(TimeSpan.FromMinutes(2))) != mesh._ready.Task)
        {
            await mesh.DisposeAsync();
            throw new TimeoutException("meshlite mesh did not come up:\n" + mesh.Output);
        }

        await mesh._ready.Task;
        return mesh;
    }

    /// <summary>The first group of the first output line matching <paramref name="pattern"/>.</summary>
    public string Match(string pattern) => _output.Select(l => Regex.Match(l, pattern)).First(m => m.Success).Groups[1].Value;

    /// <summary>SIGTERM (as Ctrl+C would) and wait; returns the pids of the processes it had started.</summary>
    public async Task<List<int>> StopAndCollectChildrenAsync()
    {
        var children = Descendants(_process.Id);
        var exitCode = await StopGracefullyAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, exitCode);
        foreach (var pid in children)
        {
            for (var i = 0; i < 100 && Directory.Exists($"/proc/{pid}"); i++)
            {
                await Task.Delay(100);
            }
        }

        return children;
    }

    private static List<int> Descendants(int pid)
    {
        var result = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var child))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                    if (parent == pid)
                    {
                        result.Add(child);
                        result.AddRange(Descendants(child));
                    }
                }
                catch (IOException)
                {
                }
            }
        }

        return result;
    }

    /// <summary>SIGTERM, as Kubernetes sends, without waiting.</summary>
    public async Task SendSigtermAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        await kill.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as Kubernetes sends, then wait for a clean exit.</summary>
    public async Task<int> StopGracefullyAsync(TimeSpan timeout)
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        await kill.WaitForExitAsync();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            _ports[match.Groups[1].Value] = int.Parse(match.Groups[2].Value);
        }
        else if (line.Contains("MeshLite ready", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    [GeneratedRegex(@"(\w+) listener on port (\d+)\.")]
    private static partial Regex ListeningLine();
}
