using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MeshLite.Yaml;

/// <summary>Small helpers over YamlDotNet's node model, which keeps every field, style and order it does not touch.</summary>
internal static partial class YamlNodes
{
    public static YamlNode? Get(this YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static YamlMappingNode? GetMap(this YamlMappingNode map, string key) => map.Get(key) as YamlMappingNode;

    public static YamlSequenceNode? GetSequence(this YamlMappingNode map, string key) => map.Get(key) as YamlSequenceNode;

    public static string? GetString(this YamlMappingNode map, string key) => (map.Get(key) as YamlScalarNode)?.Value;

    public static YamlMappingNode GetOrAddMap(this YamlMappingNode map, string key)
    {
        if (map.Get(key) is YamlMappingNode existing)
        {
            return existing;
        }

        var created = new YamlMappingNode();
        map.Children[new YamlScalarNode(key)] = created;
        return created;
    }

    public static void Set(this YamlMappingNode map, string key, YamlNode value) => map.Children[new YamlScalarNode(key)] = value;

    public static bool Remove(this YamlMappingNode map, string key) => map.Children.Remove(new YamlScalarNode(key));

    /// <summary>Adds <paramref name="key"/> just before <paramref name="before"/> when that key exists, else at the end.</summary>
    public static void InsertBefore(this YamlMappingNode map, string before, string key, YamlNode value)
    {
        var index = map.Children.Keys.ToList().FindIndex(k => k is YamlScalarNode { Value: var v } && v == before);
        if (index < 0)
        {
            map.Set(key, value);
        }
        else
        {
            map.Children.Insert(index, new YamlScalarNode(key), value);
        }
    }

    /// <summary>Replaces the value of <paramref name="oldKey"/> with a new key and value at the same position.</summary>
    public static void Replace(this YamlMappingNode map, string oldKey, string newKey, YamlNode value)
    {
        var index = map.Children.Keys.ToList().FindIndex(k => k is YamlScalarNode { Value: var v } && v == oldKey);
        map.Children.RemoveAt(index);
        map.Children.Insert(index, new YamlScalarNode(newKey), value);
    }

    /// <summary>A string scalar, quoted when YAML would otherwise read it as a number, a boolean or null.</summary>
    public static YamlScalarNode String(string value) =>
        new(value) { Style = SafePlain().IsMatch(value) && !LooksTyped(value) ? ScalarStyle.Plain : ScalarStyle.DoubleQuoted };

    public static YamlScalarNode Number(long value) => new(value.ToString(CultureInfo.InvariantCulture)) { Style = ScalarStyle.Plain };

    public static YamlMappingNode Map(params (string Key, YamlNode Value)[] entries)
    {
        var map = new YamlMappingNode();
        foreach (var (key, value) in entries)
        {
            map.Set(key, value);
        }

        return map;
    }

    public static YamlMappingNode EnvVar(string name, string value) => Map(("name", String(name)), ("value", String(value)));

    public static YamlNode Clone(YamlNode node) => node switch
    {
        YamlScalarNode s => new YamlScalarNode(s.Value) { Style = s.Style, Tag = s.Tag },
        YamlSequenceNode q => new YamlSequenceNode(q.Children.Select(Clone)) { Style = q.Style },
        YamlMappingNode m => CloneMap(m),
        _ => throw new InvalidOperationException($"Unexpected YAML node {node.NodeType}."),
    };

    private static YamlMappingNode CloneMap(YamlMappingNode map)
    {
        var clone = new YamlMappingNode { Style = map.Style };
        foreach (var (key, value) in map.Children)
        {
            clone.Children.Add(Clone(key), Clone(value));
        }

        return clone;
    }

    /// <summary>A node as JSON, typing plain scalars as YAML 1.2's core schema does (what the API server reads).</summary>
    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } p => PlainToJson(p.Value),
        YamlScalarNode q => JsonValue.Create(q.Value),
        _ => null,
    };

    /// <summary>The inverse of <see cref="ToJson"/>.</summary>
    public static YamlNode FromJson(JsonNode? json) => json switch
    {
        JsonObject o => Map(o.Select(kv => (kv.Key, FromJson(kv.Value))).ToArray()),
        JsonArray a => new YamlSequenceNode(a.Select(FromJson)),
        JsonValue v when v.TryGetValue<long>(out var l) => Number(l),
        JsonValue v when v.TryGetValue<double>(out var d) => new YamlScalarNode(d.ToString("R", CultureInfo.InvariantCulture)),
        JsonValue v when v.TryGetValue<bool>(out var b) => new YamlScalarNode(b ? "true" : "false"),
        JsonValue v => String(v.GetValue<string>()),
        _ => new YamlScalarNode("null"),
    };

    /// <summary>Whether a plain scalar is YAML's null (empty, <c>~</c>, <c>null</c>), as the API server reads it.</summary>
    public static bool IsNull(YamlNode node) => node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } scalar && IsNullText(scalar.Value);

    private static bool IsNullText([NotNullWhen(false)] string? value) => value is null or "" or "~" or "null" or "Null" or "NULL";

    private static JsonValue? PlainToJson(string? value) => IsNullText(value) ? null : value switch
    {
        "true" or "True" or "TRUE" => JsonValue.Create(true),
        "false" or "False" or "FALSE" => JsonValue.Create(false),
        _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
        _ when Float().IsMatch(value) => JsonValue.Create(double.Parse(value, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(value),
    };

    private static bool LooksTyped(string value) => PlainToJson(value) is not { } v || v.GetValueKind() != System.Text.Json.JsonValueKind.String
        || value is "yes" or "no" or "on" or "off" or "y" or "n" or "Yes" or "No" or "On" or "Off"
        || Sexagesimal().IsMatch(value);

    /// <summary>YAML 1.1 (which Kubernetes' parser follows) reads <c>00:00:05</c> as a base-60 number.</summary>
    [GeneratedRegex(@"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")]
    private static partial Regex Sexagesimal();

    [GeneratedRegex(@"^[A-Za-z0-9_/$(][A-Za-z0-9_./:$()@-]*$")]
    private static partial Regex SafePlain();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();
}
