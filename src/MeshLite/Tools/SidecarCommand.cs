using System.CommandLine;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite</c> itself: the sidecar, configured by <c>--config</c>, <c>--istio</c> and any number of
/// <c>--MeshLite:Key=value</c> settings (which the host's configuration reads), and the other commands beneath it.
/// </summary>
internal static class SidecarCommand
{
    public static RootCommand Create(string[] args, Func<string[], CancellationToken, Task<int>> runSidecar, IEnumerable<Command> commands)
    {
        var config = new Option<FileInfo>("--config")
        {
            Description = "A JSON configuration file (MeshLite section); edits apply live.",
            HelpName = "file",
        };
        config.AcceptExistingOnly();
        var istio = new Option<FileSystemInfo>("--istio")
        {
            Description = "Istio's own resources: a YAML file or a folder (Telemetry, VirtualService, ServiceEntry, Sidecar, mesh config); edits apply live.",
            HelpName = "path",
        };
        istio.AcceptExistingOnly();
        var root = new RootCommand("""
            MeshLite — the tracing an Envoy sidecar gives an app in Istio, without Istio.
            Runs the sidecar; settings are --MeshLite:Key=value (for example --MeshLite:ServiceName=payment), environment
            variables (MeshLite__ServiceName=payment), a --config file or Istio's resources (--istio).
            """)
        {
            config,
            istio,
        };
        foreach (var command in commands)
        {
            root.Subcommands.Add(command);
        }

        root.TreatUnmatchedTokensAsErrors = false;
        root.SetAction((result, cancellationToken) =>
        {
            _ = ConfigurationArguments(result.UnmatchedTokens);
            return runSidecar(args, cancellationToken);
        });
        return root;
    }

    /// <summary>
    /// Tokens the command does not know are configuration settings, as .NET's command-line configuration reads them:
    /// <c>--Section:Key=value</c>, <c>--Section:Key value</c> or <c>Section:Key=value</c>. Anything else is a mistake,
    /// named here rather than ignored.
    /// </summary>
    public static IReadOnlyList<string> ConfigurationArguments(IReadOnlyList<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.StartsWith("--", StringComparison.Ordinal) && token.Length > 2)
            {
                if (!token.Contains('=', StringComparison.Ordinal) && i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    i++;
                }

                continue;
            }

            if (!token.Contains('=', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unrecognized command or argument '{token}'. Sidecar settings are written --MeshLite:Key=value; see 'meshlite --help'.");
            }
        }

        return tokens;
    }
}
