using MeshLite.Configuration;

namespace MeshLite.Tracing;

/// <summary>
/// Istio's custom tags: a literal, an environment variable (read once, at start) or the first value of a request
/// header, each with a default; a tag whose value ends up empty is skipped.
/// </summary>
public sealed class CustomTags
{
    private readonly (string Tag, string Value)[] _fixed;
    private readonly (string Tag, string Header, string? Default)[] _headers;

    public CustomTags(IReadOnlyDictionary<string, CustomTagOptions> tags, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(tags);
        ArgumentNullException.ThrowIfNull(environment);
        var fixedTags = new List<(string, string)>();
        var headerTags = new List<(string, string, string?)>();
        foreach (var (name, tag) in tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (tag.Literal?.Value is { Length: > 0 } literal)
            {
                fixedTags.Add((name, literal));
            }
            else if (tag.Environment is { Name: { Length: > 0 } variable } env)
            {
                var value = environment(variable);
                if (string.IsNullOrEmpty(value))
                {
                    value = env.DefaultValue;
                }

                if (!string.IsNullOrEmpty(value))
                {
                    fixedTags.Add((name, value));
                }
            }
            else if (tag.Header is { Name: { Length: > 0 } header } h)
            {
                headerTags.Add((name, header, h.DefaultValue));
            }
        }

        _fixed = [.. fixedTags];
        _headers = [.. headerTags];
    }

    public int Count => _fixed.Length + _headers.Length;

    /// <summary>Calls <paramref name="add"/> for every tag that has a non-empty value for this request.</summary>
    public void Apply<TState>(IHeaderDictionary requestHeaders, TState state, Action<TState, string, string> add)
    {
        foreach (var (tag, value) in _fixed)
        {
            add(state, tag, value);
        }

        foreach (var (tag, header, defaultValue) in _headers)
        {
            var values = requestHeaders[header];
            var value = values.Count > 0 && !string.IsNullOrEmpty(values[0]) ? values[0] : defaultValue;
            if (!string.IsNullOrEmpty(value))
            {
                add(state, tag, value);
            }
        }
    }
}
