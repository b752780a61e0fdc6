using System.Diagnostics;

namespace MeshLite.IntegrationTests.Common;

/// <summary>
/// Renders a chart as <c>helm template</c> does, with tests/tools/helm-template (Go's text/template, Sprig and Helm's own
/// functions), built once per run from Debian's Go packages: Helm itself is not packaged for this machine. Where Go or
/// Sprig is missing the test reports itself skipped; <c>.ci/run</c> installs them.
/// </summary>
internal static class HelmTemplate
{
    private const string GoPath = "/usr/share/gocode";
    private static readonly Lazy<Task<string>> _binary = new(BuildAsync);

    public static string Chart => Path.Combine(Repository.Root, "helm", "meshlite");

    public static void RequireTools()
    {
        var go = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "go")).Any(File.Exists);
        var sprig = Directory.Exists(Path.Combine(GoPath, "src", "github.com", "Masterminds", "sprig"))
            && Directory.Exists(Path.Combine(GoPath, "src", "gopkg.in", "yaml.v2"));
        Assert.SkipWhen(!go || !sprig, RequiredTools.SkipReason("Go with Sprig (to render the Helm chart)",
            "golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev"));
    }

    /// <summary>The rendered manifests (stdout), or throws with the renderer's error, as helm's "Error: …" line.</summary>
    public static async Task<string> RenderAsync(string? valuesYaml = null, string release = "shop", string ns = "store",
        string kubeVersion = "v1.33.0", bool notes = false, string? chart = null)
    {
        RequireTools();
        var binary = await _binary.Value;
        var args = new List<string> { "--name", release, "--namespace", ns, "--kube-version", kubeVersion };
        string? valuesFile = null;
        if (valuesYaml is not null)
        {
            valuesFile = Path.Combine(Path.GetTempPath(), $"meshlite-values-{Guid.NewGuid():N}.yaml");
            await File.WriteAllTextAsync(valuesFile, valuesYaml);
            args.AddRange(["-f", valuesFile]);
        }

        if (notes)
        {
            args.Add("--notes");
        }

        args.Add(chart ?? Chart);
        try
        {
            var (code, stdout, stderr) = await RunAsync(binary, args, null);
            return code == 0 ? stdout : throw new HelmTemplateException(stderr.Trim());
        }
        finally
        {
            if (valuesFile is not null)
            {
                File.Delete(valuesFile);
            }
        }
    }

    private static async Task<string> BuildAsync()
    {
        var output = Path.Combine(Path.GetTempPath(), $"meshlite-helm-template-{Environment.ProcessId}");
        var (code, stdout, stderr) = await RunAsync("go", ["build", "-o", output, "."], Path.Combine(Repository.Root, "tests", "tools", "helm-template"));
        return code == 0 ? output : throw new InvalidOperationException($"go build of tests/tools/helm-template failed: {stdout}{stderr}");
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, string? workingDirectory)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            Environment = { ["GO111MODULE"] = "off", ["GOPATH"] = GoPath, ["GOCACHE"] = Path.Combine(Path.GetTempPath(), "meshlite-gocache"), ["GOFLAGS"] = "" },
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}

internal sealed class HelmTemplateException(string message) : Exception(message);
