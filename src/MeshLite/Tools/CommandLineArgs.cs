using System.Globalization;
using MeshLite.Configuration;

namespace MeshLite.Tools;

/// <summary><c>--name value</c> / <c>--name=value</c> options and positional arguments for MeshLite's subcommands.</summary>
internal sealed class CommandLineArgs
{
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.OrdinalIgnoreCase);

    public CommandLineArgs(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) && !(arg.StartsWith('-') && arg.Length == 2))
            {
                Positional.Add(arg);
                continue;
            }

            var name = arg.TrimStart('-');
            string value;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            else
            {
                value = "true";
            }

            if (!_options.TryGetValue(name, out var values))
            {
                _options[name] = values = [];
            }

            values.Add(value);
        }
    }

    public List<string> Positional { get; } = [];

    public string? Get(string name) => _options.TryGetValue(name, out var values) ? values[^1] : null;

    public IReadOnlyList<string> All(string name) => _options.TryGetValue(name, out var values) ? values : [];

    public int Int(string name, int fallback) => Get(name) is { } v
        ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : throw new ArgumentException($"--{name} '{v}' is not a whole number.")
        : fallback;

    public double Double(string name, double fallback) => Get(name) is { } v
        ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new ArgumentException($"--{name} '{v}' is not a number.")
        : fallback;

    /// <summary>Seconds, written <c>10</c>, <c>10s</c>, <c>500ms</c> or <c>2m</c>.</summary>
    public TimeSpan Duration(string name, TimeSpan fallback)
    {
        var v = Get(name);
        if (v is null)
        {
            return fallback;
        }

        return DurationText.TryParse(v, bareSeconds: true, out var duration)
            ? duration
            : throw new ArgumentException($"--{name} '{v}' is not a duration such as 10s or 500ms.");
    }
}
