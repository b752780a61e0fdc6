using System.Globalization;
using MeshLite.Yaml;
using YamlDotNet.RepresentationModel;

namespace MeshLite.Istio;

/// <summary>
/// One document being read: where it is (file, index, resource), the errors and warnings found in it, and which
/// fields of each mapping were read — every field left unread is named in a warning, never silently ignored.
/// </summary>
internal sealed class YamlDocumentReader(string file, int index)
{
    private readonly Dictionary<YamlMappingNode, (string Path, HashSet<string> Read)> _mappings = new(ReferenceEqualityComparer.Instance);

    public string File { get; } = file;

    /// <summary>1-based, as editors count <c>---</c>-separated documents.</summary>
    public int Index { get; } = index;

    /// <summary>"<c>Telemetry istio-system/mesh-default</c>" once known.</summary>
    public string? Resource { get; set; }

    public List<string> Errors { get; } = [];

    public List<string> Warnings { get; } = [];

    public string Where(YamlNode node) =>
        $"{File}:{node.Start.Line}:{node.Start.Column} (document {Index}{(Resource is null ? "" : ", " + Resource)})";

    public void Error(YamlNode node, string path, string message) => Errors.Add($"{Where(node)}: {path}: {message}");

    public void Warn(YamlNode node, string path, string message) => Warnings.Add($"{Where(node)}: {path}: {message}");

    internal void MarkRead(YamlMappingNode map, string path, string key)
    {
        if (!_mappings.TryGetValue(map, out var entry))
        {
            _mappings[map] = entry = (path, new HashSet<string>(StringComparer.Ordinal));
        }

        entry.Read.Add(key);
    }

    internal void Visit(YamlMappingNode map, string path)
    {
        if (!_mappings.ContainsKey(map))
        {
            _mappings[map] = (path, new HashSet<string>(StringComparer.Ordinal));
        }
    }

    /// <summary>Warns about every field of a visited mapping that nothing read: MeshLite does not implement it.</summary>
    public void WarnUnread()
    {
        foreach (var (map, (path, read)) in _mappings)
        {
            foreach (var (key, value) in map.Children)
            {
                if (key is YamlScalarNode { Value: { } name } && !read.Contains(name))
                {
                    Warn(value, Join(path, name), "not implemented by MeshLite; ignored.");
                }
            }
        }
    }

    public static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;
}

/// <summary>A node of a document and its field path (<c>spec.http[0].fault</c>), with typed reads that report errors with the position.</summary>
internal readonly struct YamlField(YamlNode node, string path, YamlDocumentReader document)
{
    public YamlNode Node { get; } = node;
    public string Path { get; } = path;
    public YamlDocumentReader Document { get; } = document;

    public bool IsMap => Node is YamlMappingNode;

    public YamlField? Get(string key)
    {
        if (Node is not YamlMappingNode map)
        {
            return null;
        }

        Document.Visit(map, Path);
        if (map.Get(key) is not { } value || YamlNodes.IsNull(value))
        {
            return null;
        }

        Document.MarkRead(map, Path, key);
        return new YamlField(value, YamlDocumentReader.Join(Path, key), Document);
    }

    /// <summary>Reads nothing but marks a field as seen, with a note on what MeshLite does instead.</summary>
    public void Note(string key, string note)
    {
        if (Get(key) is { } field)
        {
            Document.Warn(field.Node, field.Path, note);
        }
    }

    public void Error(string message) => Document.Error(Node, Path, message);

    public void Warn(string message) => Document.Warn(Node, Path, message);

    public string? String(string key)
    {
        if (Get(key) is not { } field)
        {
            return null;
        }

        if (field.Node is YamlScalarNode scalar)
        {
            return scalar.Value;
        }

        field.Error("must be a string.");
        return null;
    }

    public double? Double(string key) =>
        Scalar(key, static (string text, out double value) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value), "a number");

    public int? Int(string key) =>
        Scalar(key, static (string text, out int value) => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value), "a whole number");

    public bool? Bool(string key) => Scalar(key, static (string text, out bool value) => bool.TryParse(text, out value), "true or false");

    private delegate bool TryParse<T>(string text, out T value);

    /// <summary>A scalar field parsed as <typeparamref name="T"/>; one that does not parse is an error saying what it should be.</summary>
    private T? Scalar<T>(string key, TryParse<T> parse, string expected)
        where T : struct
    {
        if (String(key) is not { } text)
        {
            return null;
        }

        if (parse(text, out var value))
        {
            return value;
        }

        Get(key)!.Value.Error($"'{text}' is not {expected}.");
        return null;
    }

    /// <summary>A protobuf Duration as Istio takes it (<c>2s</c>, <c>500ms</c>, <c>1m30s</c>): at least 1 ms, to the millisecond.</summary>
    public TimeSpan? Duration(string key)
    {
        if (String(key) is not { } text)
        {
            return null;
        }

        var field = Get(key)!.Value;
        if (!IstioDuration.TryParse(text, out var duration))
        {
            field.Error($"'{text}' is not a duration such as 2s, 500ms or 1m.");
            return null;
        }

        if (duration < TimeSpan.FromMilliseconds(1))
        {
            field.Error("duration must be greater than 1ms");
            return null;
        }

        if (duration.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            field.Error("only durations to ms precision are supported");
            return null;
        }

        return duration;
    }

    public IEnumerable<YamlField> Items(string key)
    {
        if (Get(key) is not { } field)
        {
            yield break;
        }

        if (field.Node is not YamlSequenceNode sequence)
        {
            field.Error("must be a list.");
            yield break;
        }

        var i = 0;
        foreach (var item in sequence.Children)
        {
            yield return new YamlField(item, $"{field.Path}[{i++}]", Document);
        }
    }

    public List<string> Strings(string key)
    {
        var values = new List<string>();
        foreach (var item in Items(key))
        {
            if (item.Node is YamlScalarNode { Value: { } value })
            {
                values.Add(value);
            }
            else
            {
                item.Error("must be a string.");
            }
        }

        return values;
    }

    /// <summary>The fields of a map whose keys are names (labels, customTags, headers).</summary>
    public IEnumerable<(string Name, YamlField Value)> Entries(string key)
    {
        if (Get(key) is not { } field)
        {
            yield break;
        }

        if (field.Node is not YamlMappingNode map)
        {
            field.Error("must be a map.");
            yield break;
        }

        foreach (var (k, v) in map.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? "";
            yield return (name, new YamlField(v, $"{field.Path}.{name}", Document));
        }
    }

    public Dictionary<string, string> StringMap(string key)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in Entries(key))
        {
            if (value.Node is YamlScalarNode { Value: { } text })
            {
                values[name] = text;
            }
            else
            {
                value.Error("must be a string.");
            }
        }

        return values;
    }
}

/// <summary>Go's duration syntax, which Istio's resources use: a sequence of numbers with units h, m, s, ms, us, ns.</summary>
internal static class IstioDuration
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var rest = text.AsSpan().Trim();
        if (rest.IsEmpty)
        {
            return false;
        }

        double total = 0;
        while (!rest.IsEmpty)
        {
            var digits = 0;
            while (digits < rest.Length && (char.IsAsciiDigit(rest[digits]) || rest[digits] == '.'))
            {
                digits++;
            }

            var unitLength = 0;
            while (digits + unitLength < rest.Length && char.IsAsciiLetter(rest[digits + unitLength]) || (digits + unitLength < rest.Length && rest[digits + unitLength] == 'µ'))
            {
                unitLength++;
            }

            if (digits == 0 || unitLength == 0 || !double.TryParse(rest[..digits], NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var seconds = rest.Slice(digits, unitLength) switch
            {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 1e-3,
                "us" or "µs" => 1e-6,
                "ns" => 1e-9,
                _ => double.NaN,
            };
            if (double.IsNaN(seconds))
            {
                return false;
            }

            total += number * seconds;
            rest = rest[(digits + unitLength)..];
        }

        duration = TimeSpan.FromTicks((long)Math.Round(total * TimeSpan.TicksPerSecond));
        return true;
    }
}
