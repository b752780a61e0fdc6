using MeshLite.Tools;

namespace MeshLite.Tools.Tests;

/// <summary>The command line on System.CommandLine: every command has its help, typed options refuse bad values by name.</summary>
public class CommandLineTests
{
    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = SidecarCommand.Create(args, (_, _) => Task.FromResult(42),
        [
            MeshRunner.Create(output), LoadGenerator.Create(output, error), TargetCommand.Create((a, _) => { output.Write(string.Join('\n', a)); return Task.FromResult(7); }),
            InjectCommand.Create(TextReader.Null, output, error), WaitCommand.Create(error), CompletionCommand.Create(output),
        ]);
        var code = await CommandLine.InvokeAsync(root, args, output, error, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("mesh", "--istio <folder>")]
    [InlineData("load", "--url <url> (REQUIRED)")]
    [InlineData("target", "--istio <path>")]
    [InlineData("inject", "-f, --filename <file|-> (REQUIRED)")]
    [InlineData("wait", "--timeout <duration>")]
    [InlineData("completion", "<bash|zsh>")]
    public async Task EveryCommand_HasItsOwnHelp(string command, string expected)
    {
        var (code, output, _) = await RunAsync(command, "--help");

        Assert.Equal(0, code);
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSidecar_TakesConfigurationSettings_AndNamesAnythingElse()
    {
        Assert.Equal(42, (await RunAsync("--MeshLite:ServiceName=payment", "--MeshLite:Inbound:AppPort", "8080")).Code);

        var root = await RunAsync("--help");
        Assert.Contains("--istio <path>", root.Output, StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => RunAsync("mseh"));
        Assert.Contains("'mseh'", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await RunAsync("--istio", "/nonexistent/istio")).Code);
    }

    [Theory]
    [InlineData(new[] { "load", "--url", "http://127.0.0.1:1/", "--duration", "5q" }, "--duration '5q' is not a duration such as 10s or 500ms.")]
    [InlineData(new[] { "load", "--url", "http://example.com/" }, "'example.com' is not this machine")]
    [InlineData(new[] { "load", "--url", "http://127.0.0.1:1/", "--concurrency", "1000" }, "--concurrency '1000' must be between 1 and 256.")]
    [InlineData(new[] { "load", "--url", "http://127.0.0.1:1/", "--header", "novalue" }, "--header 'novalue' is not name:value.")]
    [InlineData(new[] { "target", "--abort-percent", "120" }, "--abort-percent '120' must be between 0 and 100.")]
    [InlineData(new[] { "wait", "--url", "localhost:15000" }, "--url 'localhost:15000' is not an http(s) URL")]
    [InlineData(new[] { "mesh", "--traffic-rate", "fast" }, "fast")]
    public async Task TypedOptions_RefuseBadValues_ByName_WithExitCode2(string[] args, string expected)
    {
        var (code, _, error) = await RunAsync(args);

        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains($"See 'meshlite {args[0]} --help'.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Target_WithIstio_PassesItOn_AndOnlyOverridesWhatWasGiven()
    {
        var folder = Directory.CreateTempSubdirectory("meshlite-istio-").FullName;
        var (code, output, _) = await RunAsync("target", "--istio", folder, "--abort-percent", "10", "--MeshLite:Admin:Port=0");
        var args = output.Split('\n');

        Assert.Equal(7, code);
        Assert.Contains("--istio=" + folder, args);
        Assert.Contains("--MeshLite:Fault:Abort:Percentage=10", args);
        Assert.Contains("--MeshLite:Admin:Port=0", args);
        Assert.DoesNotContain(args, a => a.StartsWith("--MeshLite:Tracing:Sampling", StringComparison.Ordinal));

        var (_, plain, _) = await RunAsync("target");
        Assert.Contains("--MeshLite:Tracing:Sampling=1", plain.Split('\n'));
    }

    [Fact]
    public async Task Load_EndsItsProgressBarWithANewline_BeforeTheSummary()
    {
        var writer = new StringWriter();
        var code = await CommandLine.InvokeAsync(LoadGenerator.Create(writer, writer), ["--url", "http://127.0.0.1:1/", "-n", "3"], writer, writer, CancellationToken.None);
        var text = writer.ToString();

        Assert.Equal(0, code);
        Assert.Matches(@"\] 3/3\nrequests: 3 ", text);
        Assert.EndsWith("status codes: error: 3\n", text.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Completion_SuggestsCommandsAndOptions_ThroughTheSuggestDirective()
    {
        var (_, commands, _) = await RunAsync("[suggest:9]", "meshlite ");
        Assert.Contains("mesh", commands.Split('\n'));
        Assert.Contains("--istio", commands.Split('\n'));

        var (_, script, _) = await RunAsync("completion", "bash");
        Assert.Contains("complete -o default -F _meshlite_complete meshlite", script, StringComparison.Ordinal);
        Assert.Contains("[suggest:${COMP_POINT}]", script, StringComparison.Ordinal);
    }
}
