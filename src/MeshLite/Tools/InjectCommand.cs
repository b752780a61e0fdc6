using System.Globalization;
using MeshLite.Injection;

namespace MeshLite.Tools;

/// <summary><c>meshlite inject -f app.yaml | kubectl apply -f -</c>, as <c>istioctl kube-inject</c>.</summary>
internal static class InjectCommand
{
    public const string Usage = """
        meshlite inject -f <file|-> [--legacy] [--image meshlite:<version>] [--image-pull-policy IfNotPresent]
                        [--otlp-endpoint http://collector:4317] [--otlp-protocol grpc] [--sampling 1]
                        [--cluster-domain cluster.local] [--run-as-user 1337|none]   (YAML on stdout, notes on stderr)
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, TextReader input, TextWriter output, TextWriter error)
    {
        var args = new CommandLineArgs(arguments);
        var file = args.Get("f") ?? args.Get("filename") ?? throw new ArgumentException("meshlite inject needs -f <file> (or -f - for stdin).");
        var options = new InjectOptions
        {
            Image = args.Get("image"),
            ImagePullPolicy = args.Get("image-pull-policy") is { } policy
                ? policy is "Always" or "IfNotPresent" or "Never" ? policy : throw new ArgumentException($"--image-pull-policy '{policy}' must be Always, IfNotPresent or Never.")
                : null,
            Legacy = args.Get("legacy") is "true",
            OtlpEndpoint = args.Get("otlp-endpoint") is { } endpoint
                ? Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? endpoint : throw new ArgumentException($"--otlp-endpoint '{endpoint}' is not an http(s) URL.")
                : null,
            OtlpProtocol = args.Get("otlp-protocol") is { } protocol
                ? protocol is "grpc" or "http/protobuf" ? protocol : throw new ArgumentException($"--otlp-protocol '{protocol}' must be grpc or http/protobuf.")
                : "grpc",
            Sampling = args.Get("sampling") is null ? null : args.Double("sampling", 1) is var s and >= 0 and <= 100 ? s : throw new ArgumentException("--sampling must be between 0 and 100."),
            ClusterDomain = args.Get("cluster-domain") ?? "cluster.local",
            RunAsUser = args.Get("run-as-user") switch
            {
                null => 1337,
                "none" => null,
                var u => long.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) && uid > 0 ? uid : throw new ArgumentException($"--run-as-user '{u}' must be a non-zero uid or 'none'."),
            },
        };

        string yaml;
        try
        {
            yaml = file == "-" ? await input.ReadToEndAsync() : await File.ReadAllTextAsync(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"meshlite inject: cannot read '{file}': {ex.Message}");
            return 1;
        }

        try
        {
            var result = new SidecarInjector(options).Inject(yaml, file == "-" ? "<stdin>" : file);
            foreach (var warning in result.Warnings)
            {
                await error.WriteLineAsync(warning);
            }

            await output.WriteAsync(result.Output);
            return 0;
        }
        catch (InjectionException ex)
        {
            await error.WriteLineAsync("meshlite inject: " + ex.Message);
            return 1;
        }
    }
}
