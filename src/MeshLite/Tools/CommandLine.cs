using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using MeshLite.Configuration;

namespace MeshLite.Tools;

/// <summary>
/// The pieces MeshLite's commands share on System.CommandLine: typed options whose parse errors name the option and
/// the value, and one way to run a command — usage errors print the error and where help is, with exit code 2;
/// exceptions reach <c>Program</c> (a configuration error is exit code 2 there too).
/// </summary>
internal static class CommandLine
{
    public const int UsageError = 2;

    /// <summary>A duration written <c>10s</c>, <c>500ms</c>, <c>2m</c> or bare seconds (<c>10</c>).</summary>
    public static Option<TimeSpan> Duration(string name, TimeSpan defaultValue, string description) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = ParseDuration,
        HelpName = "duration",
    };

    /// <summary>As <see cref="Duration(string, TimeSpan, string)"/>, unset unless given.</summary>
    public static Option<TimeSpan?> OptionalDuration(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result => ParseDuration(result),
        HelpName = "duration",
    };

    private static TimeSpan ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (DurationText.TryParse(text, bareSeconds: true, out var duration))
        {
            return duration;
        }

        result.AddError($"{OptionName(result)} '{text}' is not a duration such as 10s or 500ms.");
        return default;
    }

    /// <summary>An absolute URL, refused with the option's name otherwise.</summary>
    public static Option<Uri> Url(string name, string description, string? defaultValue = null)
    {
        var option = new Option<Uri>(name)
        {
            Description = description,
            HelpName = "url",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                {
                    return uri;
                }

                result.AddError($"{OptionName(result)} '{text}' is not an http(s) URL such as http://127.0.0.1:15006/path.");
                return null;
            },
        };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => new Uri(defaultValue);
        }

        return option;
    }

    /// <summary>A number within bounds (a percentage, a rate), refused with the option's name otherwise.</summary>
    public static Option<double> Number(string name, double defaultValue, double min, double max, string description)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<double>();
            if (double.IsNaN(value) || value < min || value > max)
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} '{value}' must be between {min} and {max}."));
            }
        });
        return option;
    }

    public static Option<int> Whole(string name, int defaultValue, int min, int max, string description)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value < min || value > max)
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} '{value}' must be between {min} and {max}."));
            }
        });
        return option;
    }

    /// <summary>Parses and runs <paramref name="command"/>; usage errors are printed with a pointer to <c>--help</c>, exit code 2.</summary>
    public static async Task<int> InvokeAsync(Command command, IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = command.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var parseError in result.Errors)
            {
                await error.WriteLineAsync(parseError.Message);
            }

            await error.WriteLineAsync($"See '{string.Join(' ', CommandPath(result.CommandResult))} --help'.");
            return UsageError;
        }

        return await result.InvokeAsync(new InvocationConfiguration
        {
            Output = output,
            Error = error,

            // Program owns Ctrl+C and SIGTERM (the sidecar drains on them), and reports exceptions itself.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        }, cancellationToken);
    }

    private static Stack<string> CommandPath(CommandResult? result)
    {
        var names = new Stack<string>();
        for (var r = result; r is not null; r = r.Parent as CommandResult)
        {
            if (r.Command is not RootCommand)
            {
                names.Push(r.Command.Name);
            }
        }

        names.Push("meshlite");
        return names;
    }

    private static string OptionName(ArgumentResult result) => (result.Parent as OptionResult)?.Option.Name ?? result.Argument.Name;
}
