using System.CommandLine;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite wait</c>: returns once the sidecar beside it is ready. A plain (not native) sidecar runs it as its
/// <c>postStart</c> hook, which the kubelet waits for before it starts the next container — the app — so that the app's
/// first calls through <c>HTTP_PROXY</c> find port 15001 open (Istio's <c>holdApplicationUntilProxyStarts</c>).
/// </summary>
internal static class WaitCommand
{
    public static Command Create(TextWriter error)
    {
        var url = CommandLine.Url("--url", "The sidecar's readiness endpoint.", "http://127.0.0.1:15000/healthz/ready");
        var timeout = CommandLine.Duration("--timeout", TimeSpan.FromSeconds(60), "How long to wait before giving up (exit code 1).");
        var command = new Command("wait", "Return once the sidecar beside this process is ready (a postStart hook, as Istio's holdApplicationUntilProxyStarts).")
        {
            url,
            timeout,
        };
        command.SetAction((result, cancellationToken) => RunAsync(result.GetRequiredValue(url), result.GetValue(timeout), error, cancellationToken));
        return command;
    }

    public static Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter error, CancellationToken cancellationToken) =>
        CommandLine.InvokeAsync(Create(error), arguments, TextWriter.Null, error, cancellationToken);

    private static async Task<int> RunAsync(Uri url, TimeSpan timeout, TextWriter error, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(1) };
        string last = "no answer yet";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await client.GetAsync(url, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return 0;
                }

                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}".Trim();
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex.Message;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }

        await error.WriteLineAsync($"MeshLite was not ready at {url} in time ({last}).");
        return 1;
    }
}
