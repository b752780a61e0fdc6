using System.Globalization;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite target</c>: MeshLite as a well-behaved, observable upstream for load tools and mesh tests — its demo app
/// answers with a fixed body after a fixed latency, and the sidecar injects Istio's faults (delay → <c>DI</c>,
/// abort → <c>FI</c>). Translates its options into sidecar configuration.
/// </summary>
internal static class TargetCommand
{
    public const string Usage = """
        meshlite target [--port 8080] [--app-port 18080] [--response-bytes 1024] [--latency-ms 0]
                        [--delay-percent 0 --delay-ms 0] [--abort-percent 0 --abort-status 503] [--sampling 1] [MeshLite options...]
        """;

    public static string[] ToSidecarArguments(IReadOnlyList<string> arguments)
    {
        var args = new CommandLineArgs(arguments);
        var c = CultureInfo.InvariantCulture;
        var appPort = args.Int("app-port", 18080);
        var result = new List<string>
        {
            "--MeshLite:ServiceName=" + (args.Get("service") ?? "target"),
            "--MeshLite:Inbound:Port=" + args.Int("port", 8080).ToString(c),
            "--MeshLite:DemoApp:Port=" + appPort.ToString(c),
            "--MeshLite:Inbound:AppPort=" + appPort.ToString(c),
            "--MeshLite:DemoApp:ResponseBytes=" + args.Int("response-bytes", 1024).ToString(c),
            "--MeshLite:DemoApp:LatencyMs=" + args.Int("latency-ms", 0).ToString(c),
            "--MeshLite:Fault:Delay:Percentage=" + args.Double("delay-percent", 0).ToString(c),
            "--MeshLite:Fault:Delay:FixedDelayMs=" + args.Int("delay-ms", 0).ToString(c),
            "--MeshLite:Fault:Abort:Percentage=" + args.Double("abort-percent", 0).ToString(c),
            "--MeshLite:Fault:Abort:HttpStatus=" + args.Int("abort-status", 503).ToString(c),
            "--MeshLite:Tracing:Sampling=" + args.Double("sampling", 1).ToString(c),
        };

        // Anything else (--MeshLite:Admin:Port=0, --config …) passes through to the sidecar.
        foreach (var raw in arguments)
        {
            if (raw.StartsWith("--MeshLite:", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("--Logging:", StringComparison.OrdinalIgnoreCase))
            {
                result.Add(raw);
            }
        }

        return [.. result];
    }
}
