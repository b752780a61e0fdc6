using System.CommandLine;
using System.Globalization;
using MeshLite.Injection;

namespace MeshLite.Tools;

/// <summary><c>meshlite inject -f app.yaml | kubectl apply -f -</c>, as <c>istioctl kube-inject</c>.</summary>
internal static class InjectCommand
{
    public static Command Create(TextReader input, TextWriter output, TextWriter error)
    {
        var file = new Option<string>("--filename", "-f") { Description = "The manifests to inject, or - for stdin.", Required = true, HelpName = "file|-" };
        var legacy = new Option<bool>("--legacy") { Description = "A plain sidecar container instead of a native (init) sidecar, for clusters before Kubernetes 1.29." };
        var image = new Option<string?>("--image") { Description = "The MeshLite image (default: meshlite:<version>)." };
        var pullPolicy = new Option<string?>("--image-pull-policy") { Description = "The sidecar's imagePullPolicy." };
        pullPolicy.AcceptOnlyFromAmong("Always", "IfNotPresent", "Never");
        var otlpEndpoint = CommandLine.Url("--otlp-endpoint", "Where the sidecar exports spans (an http(s) URL).");
        var otlpProtocol = new Option<string>("--otlp-protocol") { Description = "OTLP over grpc or http/protobuf.", DefaultValueFactory = _ => "grpc" };
        otlpProtocol.AcceptOnlyFromAmong("grpc", "http/protobuf");
        var sampling = new Option<double?>("--sampling") { Description = "The sidecar's sampling percentage (0–100)." };
        sampling.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } value && value is < 0 or > 100 or double.NaN)
            {
                result.AddError("--sampling must be between 0 and 100.");
            }
        });
        var clusterDomain = new Option<string>("--cluster-domain") { Description = "The cluster's DNS domain.", DefaultValueFactory = _ => "cluster.local" };
        var runAsUser = new Option<long?>("--run-as-user")
        {
            Description = "The sidecar's uid (default 1337), or 'none' to leave it to the image.",
            DefaultValueFactory = _ => 1337,
            CustomParser = result =>
            {
                var text = result.Tokens[^1].Value;
                if (text == "none")
                {
                    return null;
                }

                if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) && uid > 0)
                {
                    return uid;
                }

                result.AddError($"--run-as-user '{text}' must be a non-zero uid or 'none'.");
                return null;
            },
        };
        var command = new Command("inject", "Add a MeshLite sidecar to Kubernetes manifests, as istioctl kube-inject (YAML on stdout, notes on stderr).")
        {
            file, legacy, image, pullPolicy, otlpEndpoint, otlpProtocol, sampling, clusterDomain, runAsUser,
        };
        command.SetAction(result => RunAsync(result.GetRequiredValue(file), new InjectOptions
        {
            Image = result.GetValue(image),
            ImagePullPolicy = result.GetValue(pullPolicy),
            Legacy = result.GetValue(legacy),
            OtlpEndpoint = result.GetValue(otlpEndpoint)?.OriginalString,
            OtlpProtocol = result.GetRequiredValue(otlpProtocol),
            Sampling = result.GetValue(sampling),
            ClusterDomain = result.GetRequiredValue(clusterDomain),
            RunAsUser = result.GetValue(runAsUser),
        }, input, output, error));
        return command;
    }

    public static Task<int> RunAsync(IReadOnlyList<string> arguments, TextReader input, TextWriter output, TextWriter error) =>
        CommandLine.InvokeAsync(Create(input, output, error), arguments, output, error, CancellationToken.None);

    private static async Task<int> RunAsync(string file, InjectOptions options, TextReader input, TextWriter output, TextWriter error)
    {
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
