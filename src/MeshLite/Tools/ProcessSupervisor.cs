using System.Diagnostics;
using System.Globalization;

namespace MeshLite.Tools;

/// <summary>A start-up failure of <c>meshlite mesh</c>, reported as one message.</summary>
internal sealed class MeshStartException(string message) : Exception(message);

/// <summary>
/// The processes of a local mesh: starts each with its output in a log file of its own, waits for a sidecar to be
/// ready (or reports the end of its log when it exits), and stops them all — SIGTERM, then a kill after 10 s.
/// </summary>
internal sealed class ProcessSupervisor : IAsyncDisposable
{
    private readonly List<(string Name, Process Process)> _processes = [];

    public ProcessSupervisor(string logs) => Logs = logs;

    public string Logs { get; }

    /// <summary>How to start this same program: the native or apphost binary, or <c>dotnet MeshLite.dll</c>.</summary>
    public static (string File, string[] Prefix) SelfCommand()
    {
        var self = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? (self, [Path.Combine(AppContext.BaseDirectory, "MeshLite.dll")])
            : (self, []);
    }

    public void Start(string name, ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + name);
        var log = new StreamWriter(Path.Combine(Logs, name + ".log")) { AutoFlush = true };
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

    public async Task WaitReadyAsync(string name, int adminPort, CancellationToken cancellationToken)
    {
        using var client = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var process = _processes.First(p => p.Name == name).Process;
            if (process.HasExited)
            {
                await process.WaitForExitAsync(cancellationToken); // drains its output into the log
                var log = Path.Combine(Logs, name + ".log");
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
                throw new MeshStartException($"The mesh did not start: {name}'s MeshLite was not ready within 60 s; see {Path.Combine(Logs, name + ".log")}.");
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

    public async ValueTask DisposeAsync()
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
}
