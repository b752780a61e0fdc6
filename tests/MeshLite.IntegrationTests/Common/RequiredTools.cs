namespace MeshLite.IntegrationTests.Common;

/// <summary>
/// Tools a few tests need beyond the .NET SDK. Where one is missing the test reports itself skipped, naming the tool and
/// how to install it; <c>.ci/run</c> installs them all, so CI runs every test.
/// </summary>
internal static class RequiredTools
{
    public static string? Chromium => FirstExisting("/usr/bin/chromium", "/usr/bin/chromium-browser");

    /// <summary>The Native AOT linker: <c>clang</c>, or Debian's versioned <c>clang-14</c>.</summary>
    public static string? Clang => FirstOnPath("clang") ?? FirstOnPath("clang-14");

    public static string? Python => FirstOnPath("python3");

    public static string SkipReason(string tool, string package) =>
        $"{tool} is not installed on this machine (apt-get install {package}); .ci/run installs it so CI runs this test.";

    public static string RequireClang() => Require(Clang, "clang", "clang zlib1g-dev");

    public static string RequirePython() => Require(Python, "python3", "python3");

    private static string Require(string? path, string tool, string package)
    {
        Assert.SkipWhen(path is null, SkipReason(tool, package));
        return path;
    }

    private static string? FirstExisting(params string[] paths) => paths.FirstOrDefault(File.Exists);

    private static string? FirstOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
