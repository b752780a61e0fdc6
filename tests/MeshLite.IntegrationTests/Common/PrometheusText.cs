using System.Globalization;
using System.Text.RegularExpressions;

namespace MeshLite.IntegrationTests.Common;

public sealed record Sample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
{
    public string this[string label] => Labels.First(l => l.Key == label).Value;
}

/// <summary>Parses the Prometheus text exposition format, keeping label order.</summary>
public static partial class PrometheusText
{
    public static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var match = SampleLine().Match(line);
            if (!match.Success)
            {
                continue;
            }

            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .Select(m => KeyValuePair.Create(m.Groups[1].Value, Regex.Unescape(m.Groups[2].Value)))
                .ToList();
            samples.Add(new Sample(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    public static async Task<List<Sample>> ScrapeAsync(int port, string path = "/stats/prometheus")
    {
        using var client = new HttpClient();
        return Parse(await client.GetStringAsync($"http://127.0.0.1:{port}{path}"));
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>[^ ]+)")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
