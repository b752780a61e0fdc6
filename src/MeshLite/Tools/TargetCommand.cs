using System.CommandLine;
using System.Globalization;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite target</c>: MeshLite as a well-behaved, observable upstream for load tools and mesh tests — its demo app
/// answers with a fixed body after a fixed latency, and the sidecar injects Istio's faults (delay → <c>DI</c>,
/// abort → <c>FI</c>). Translates its options into sidecar configuration.
/// </summary>
internal static class TargetCommand
{
    public static Command Create(Func<string[], CancellationToken, Task<int>> runSidecar)
    {
        var port = CommandLine.Whole("--port", 8080, 0, 65535, "The inbound listener, where load goes.");
        var appPort = CommandLine.Whole("--app-port", 18080, 1, 65535, "The demo app's port on 127.0.0.1.");
        var service = new Option<string>("--service") { Description = "The service name in spans and metrics.", DefaultValueFactory = _ => "target" };
        var responseBytes = CommandLine.Whole("--response-bytes", 1024, 0, 64 * 1024 * 1024, "The size of every response body.");
        var latency = CommandLine.Whole("--latency-ms", 0, 0, 600_000, "The app's latency per request.");
        var delayPercent = CommandLine.Number("--delay-percent", 0, 0, 100, "Istio's fault delay: the share of requests delayed (DI).");
        var delayMs = CommandLine.Whole("--delay-ms", 0, 0, 600_000, "Istio's fault delay: how long.");
        var abortPercent = CommandLine.Number("--abort-percent", 0, 0, 100, "Istio's fault abort: the share of requests answered at once (FI).");
        var abortStatus = CommandLine.Whole("--abort-status", 503, 200, 599, "Istio's fault abort: the status.");
        var sampling = CommandLine.Number("--sampling", 1, 0, 100, "The sampling percentage.");
        var istio = new Option<FileSystemInfo>("--istio") { Description = "Istio resources (a YAML file or folder) to apply, as the sidecar's --istio.", HelpName = "path" };
        istio.AcceptExistingOnly();
        var command = new Command("target", "MeshLite as an observable upstream for load tools: a demo app with a fixed body and latency, behind a sidecar that injects Istio's faults. Other MeshLite options (--MeshLite:Key=value) pass through.")
        {
            port, appPort, service, responseBytes, latency, delayPercent, delayMs, abortPercent, abortStatus, sampling, istio,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((result, cancellationToken) =>
        {
            var c = CultureInfo.InvariantCulture;
            var app = result.GetValue(appPort).ToString(c);
            List<string> args =
            [
                "--MeshLite:ServiceName=" + result.GetRequiredValue(service),
                "--MeshLite:Inbound:Port=" + result.GetValue(port).ToString(c),
                "--MeshLite:DemoApp:Port=" + app,
                "--MeshLite:Inbound:AppPort=" + app,
                "--MeshLite:DemoApp:ResponseBytes=" + result.GetValue(responseBytes).ToString(c),
                "--MeshLite:DemoApp:LatencyMs=" + result.GetValue(latency).ToString(c),
            ];

            // With Istio's resources, only what is given here overrides them (the command line wins over --istio).
            var istioPath = result.GetValue(istio)?.FullName;
            void Add(string key, Option option, string value)
            {
                if (istioPath is null || result.GetResult(option) is { Implicit: false })
                {
                    args.Add($"--MeshLite:{key}={value}");
                }
            }

            Add("Fault:Delay:Percentage", delayPercent, result.GetValue(delayPercent).ToString(c));
            Add("Fault:Delay:FixedDelayMs", delayMs, result.GetValue(delayMs).ToString(c));
            Add("Fault:Abort:Percentage", abortPercent, result.GetValue(abortPercent).ToString(c));
            Add("Fault:Abort:HttpStatus", abortStatus, result.GetValue(abortStatus).ToString(c));
            Add("Tracing:Sampling", sampling, result.GetValue(sampling).ToString(c));
            if (istioPath is not null)
            {
                args.Add("--istio=" + istioPath);
            }

            // Anything else (--MeshLite:Admin:Port=0, --config …) passes through to the sidecar, checked as the sidecar checks it.
            args.AddRange(SidecarCommand.ConfigurationArguments(result.UnmatchedTokens));
            return runSidecar([.. args], cancellationToken);
        });
        return command;
    }
}
