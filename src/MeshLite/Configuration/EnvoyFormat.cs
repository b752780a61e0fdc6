using System.Globalization;
using System.Text.Json;

namespace MeshLite.Configuration;

/// <summary>
/// The grammar of Envoy's access-log format strings, as Istio's <c>meshConfig.accessLogFormat</c> takes them: literal
/// text and command operators — <c>%NAME%</c>, <c>%NAME(argument)%</c>, <c>%NAME(argument):length%</c> — and, for the
/// JSON encoding, an object whose values are such strings. Only the operators MeshLite can fill are accepted, so that a
/// format is refused at start rather than printing what it cannot know.
/// </summary>
internal static class EnvoyFormat
{
    /// <summary>One piece of a format: literal text, or an operator with its argument and maximum length.</summary>
    public sealed record Token(string? Literal, string? Operator = null, string? Argument = null, int? MaxLength = null);

    /// <summary>The operators MeshLite fills; <c>REQ</c> and <c>RESP</c> need a header argument (<c>X-REQUEST-ID</c>, <c>:PATH</c>, <c>A?B</c>).</summary>
    public static IReadOnlySet<string> Operators { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "START_TIME", "REQ", "RESP", "PROTOCOL", "RESPONSE_CODE", "RESPONSE_FLAGS", "RESPONSE_CODE_DETAILS", "CONNECTION_TERMINATION_DETAILS",
        "UPSTREAM_TRANSPORT_FAILURE_REASON", "BYTES_RECEIVED", "BYTES_SENT", "DURATION", "UPSTREAM_HOST", "UPSTREAM_CLUSTER", "UPSTREAM_CLUSTER_RAW",
        "UPSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_REMOTE_ADDRESS",
        "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "REQUESTED_SERVER_NAME", "ROUTE_NAME", "UPSTREAM_REQUEST_ATTEMPT_COUNT", "TRACE_ID", "HOSTNAME",
    };

    public static bool TryParse(string format, out List<Token> tokens, out string? error)
    {
        tokens = [];
        error = null;
        var text = format.AsSpan();
        var literal = new System.Text.StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c != '%')
            {
                literal.Append(c);
                i++;
                continue;
            }

            var nameEnd = i + 1;
            while (nameEnd < text.Length && (char.IsAsciiLetterUpper(text[nameEnd]) || char.IsAsciiDigit(text[nameEnd]) || text[nameEnd] == '_'))
            {
                nameEnd++;
            }

            var name = text[(i + 1)..nameEnd].ToString();
            if (name.Length == 0)
            {
                error = $"'%' at {i} does not start a command operator such as %RESPONSE_CODE%";
                return false;
            }

            string? argument = null;
            var at = nameEnd;
            if (at < text.Length && text[at] == '(')
            {
                var close = text[at..].IndexOf(')');
                if (close < 0)
                {
                    error = $"%{name}( has no closing parenthesis";
                    return false;
                }

                argument = text.Slice(at + 1, close - 1).ToString();
                at += close + 1;
            }

            int? maxLength = null;
            if (at < text.Length && text[at] == ':')
            {
                var digits = at + 1;
                while (digits < text.Length && char.IsAsciiDigit(text[digits]))
                {
                    digits++;
                }

                if (digits == at + 1 || !int.TryParse(text[(at + 1)..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length == 0)
                {
                    error = $"%{name}%: the length after ':' must be a positive whole number";
                    return false;
                }

                maxLength = length;
                at = digits;
            }

            if (at >= text.Length || text[at] != '%')
            {
                error = $"%{name} is not closed by '%'";
                return false;
            }

            if (!Operators.Contains(name))
            {
                error = $"%{name}% is not a command operator MeshLite fills (it knows {string.Join(", ", Operators.Order(StringComparer.Ordinal))})";
                return false;
            }

            if (name is "REQ" or "RESP" ? string.IsNullOrEmpty(argument) : argument is not null)
            {
                error = name is "REQ" or "RESP" ? $"%{name}% needs a header, as %{name}(X-REQUEST-ID)%" : $"%{name}({argument})%: MeshLite takes %{name}% without an argument";
                return false;
            }

            if (literal.Length > 0)
            {
                tokens.Add(new Token(literal.ToString()));
                literal.Clear();
            }

            tokens.Add(new Token(null, name, argument, maxLength));
            i = at + 1;
        }

        if (literal.Length > 0)
        {
            tokens.Add(new Token(literal.ToString()));
        }

        return true;
    }

    /// <summary>The JSON encoding's format: a JSON object whose values are format strings, in order.</summary>
    public static bool TryParseJson(string format, out List<(string Key, List<Token> Tokens)> fields, out string? error)
    {
        fields = [];
        error = null;
        try
        {
            using var document = JsonDocument.Parse(format);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = "a JSON format must be a JSON object of field names to format strings";
                return false;
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    error = $"field '{property.Name}' must be a format string";
                    return false;
                }

                if (!TryParse(property.Value.GetString()!, out var tokens, out var fieldError))
                {
                    error = $"field '{property.Name}': {fieldError}";
                    return false;
                }

                fields.Add((property.Name, tokens));
            }

            return true;
        }
        catch (JsonException ex)
        {
            error = $"not a JSON object: {ex.Message}";
            return false;
        }
    }
}
