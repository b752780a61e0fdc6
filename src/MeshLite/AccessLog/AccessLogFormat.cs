using System.Globalization;
using System.Text;
using System.Text.Json;
using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.AccessLog;

/// <summary>
/// A custom access-log format (<c>AccessLog:Format</c>, Istio's <c>accessLogFormat</c>), compiled once per configuration
/// version: each command operator reads one fact of the line. Headers beyond those every line already carries are
/// captured at the end of the request, only the ones the format names. TEXT writes <c>-</c> for an empty value and
/// ends the line with a newline; JSON writes a field whose format is one operator as a typed value (a number, a
/// string, or null when unset) and any other as a string, as Envoy's <c>json_format</c> does.
/// </summary>
internal sealed class AccessLogFormat
{
    private readonly Part[] _text = [];
    private readonly (string Key, Part[] Parts)[] _json = [];
    private readonly List<string> _requestHeaders = [];
    private readonly List<string> _responseHeaders = [];

    private AccessLogFormat(string format, bool json)
    {
        IsJson = json;
        if (json)
        {
            if (!EnvoyFormat.TryParseJson(format, out var fields, out var error))
            {
                throw new ArgumentException(error, nameof(format));
            }

            _json = [.. fields.Select(f => (f.Key, f.Tokens.Select(Compile).ToArray()))];
        }
        else
        {
            if (!EnvoyFormat.TryParse(format, out var tokens, out var error))
            {
                throw new ArgumentException(error, nameof(format));
            }

            _text = [.. tokens.Select(Compile)];
            if (_text.Length == 0 || _text[^1] is not { Literal: { } last } || !last.EndsWith('\n'))
            {
                // Istio appends the newline a TEXT format lacks.
                _text = [.. _text, new Part(Field.Literal, "\n", -1, null)];
            }
        }
    }

    public bool IsJson { get; }

    /// <summary>The compiled format, or null for Istio's default; the options were validated, so the format parses.</summary>
    public static AccessLogFormat? From(AccessLogOptions options) =>
        options.Format is null ? null : new AccessLogFormat(options.Format, string.Equals(options.Encoding, "JSON", StringComparison.OrdinalIgnoreCase));

    /// <summary>The values of the headers the format names beyond the usual ones, or null when it names none.</summary>
    public string?[]? Capture(IHeaderDictionary request, IHeaderDictionary response)
    {
        if (_requestHeaders.Count == 0 && _responseHeaders.Count == 0)
        {
            return null;
        }

        var values = new string?[_requestHeaders.Count + _responseHeaders.Count];
        for (var i = 0; i < _requestHeaders.Count; i++)
        {
            values[i] = request.TryGetValue(_requestHeaders[i], out var value) && value.Count > 0 ? value[0] : null;
        }

        for (var i = 0; i < _responseHeaders.Count; i++)
        {
            values[_requestHeaders.Count + i] = response.TryGetValue(_responseHeaders[i], out var value) && value.Count > 0 ? value[0] : null;
        }

        return values;
    }

    public void AppendText(StringBuilder line, in AccessLogEntry e)
    {
        foreach (var part in _text)
        {
            if (part.Field == Field.Literal)
            {
                line.Append(part.Literal);
                continue;
            }

            var value = Value(part, e);
            line.AppendEscaped(Truncate(value.Text, part.MaxLength));
        }
    }

    public void WriteJson(Utf8JsonWriter json, in AccessLogEntry e)
    {
        json.WriteStartObject();
        foreach (var (key, parts) in _json)
        {
            if (parts is [{ Field: not Field.Literal } single])
            {
                var value = Value(single, e);
                if (value.Number is long number)
                {
                    json.WriteNumber(key, number);
                }
                else
                {
                    json.WriteString(key, Truncate(value.Text, single.MaxLength));
                }

                continue;
            }

            var text = new StringBuilder();
            foreach (var part in parts)
            {
                text.Append(part.Field == Field.Literal ? part.Literal : Truncate(Value(part, e).Text, part.MaxLength) ?? "-");
            }

            json.WriteString(key, text.ToString());
        }

        json.WriteEndObject();
    }

    private static string? Truncate(string? value, int? maxLength) =>
        value is not null && maxLength is int length && value.Length > length ? value[..length] : value;

    /// <summary>A fact of the line: its text (null when unset) and, for numeric operators, its number.</summary>
    private readonly record struct FieldValue(string? Text, long? Number = null)
    {
        public static FieldValue Of(long number) => new(number.ToString(CultureInfo.InvariantCulture), number);
    }

    private enum Field
    {
        Literal,
        Unset,
        StartTime,
        Method,
        Path,
        Authority,
        ForwardedFor,
        UserAgent,
        RequestId,
        RequestHeader,
        ResponseHeader,
        UpstreamServiceTime,
        Protocol,
        ResponseCode,
        ResponseFlags,
        ResponseCodeDetails,
        BytesReceived,
        BytesSent,
        Duration,
        UpstreamHost,
        UpstreamCluster,
        UpstreamClusterRaw,
        DownstreamLocalAddress,
        DownstreamLocalAddressWithoutPort,
        DownstreamRemoteAddress,
        DownstreamRemoteAddressWithoutPort,
        RouteName,
        AttemptCount,
        TraceId,
        Hostname,
    }

    /// <summary>One compiled piece: a literal, or a field (with its captured-header slot, when it reads one).</summary>
    private sealed record Part(Field Field, string? Literal, int Slot, int? MaxLength);

    private Part Compile(EnvoyFormat.Token token)
    {
        if (token.Operator is null)
        {
            return new Part(Field.Literal, token.Literal, -1, null);
        }

        var field = token.Operator switch
        {
            "START_TIME" => Field.StartTime,
            "PROTOCOL" => Field.Protocol,
            "RESPONSE_CODE" => Field.ResponseCode,
            "RESPONSE_FLAGS" => Field.ResponseFlags,
            "RESPONSE_CODE_DETAILS" => Field.ResponseCodeDetails,
            "BYTES_RECEIVED" => Field.BytesReceived,
            "BYTES_SENT" => Field.BytesSent,
            "DURATION" => Field.Duration,
            "UPSTREAM_HOST" => Field.UpstreamHost,
            "UPSTREAM_CLUSTER" => Field.UpstreamCluster,
            "UPSTREAM_CLUSTER_RAW" => Field.UpstreamClusterRaw,
            "DOWNSTREAM_LOCAL_ADDRESS" => Field.DownstreamLocalAddress,
            "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT" => Field.DownstreamLocalAddressWithoutPort,
            "DOWNSTREAM_REMOTE_ADDRESS" => Field.DownstreamRemoteAddress,
            "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" => Field.DownstreamRemoteAddressWithoutPort,
            "ROUTE_NAME" => Field.RouteName,
            "UPSTREAM_REQUEST_ATTEMPT_COUNT" => Field.AttemptCount,
            "TRACE_ID" => Field.TraceId,
            "HOSTNAME" => Field.Hostname,
            "REQ" or "RESP" => Field.RequestHeader,
            _ => Field.Unset,
        };
        if (field != Field.RequestHeader)
        {
            return new Part(field, null, -1, token.MaxLength);
        }

        // %REQ(A?B)% reads A, else B; the pseudo-headers and the headers every line carries are read from the entry.
        var header = token.Argument!.Split('?')[0].ToLowerInvariant();
        var alternative = token.Argument.Split('?').Skip(1).FirstOrDefault()?.ToLowerInvariant();
        if (token.Operator == "RESP")
        {
            return header == "x-envoy-upstream-service-time"
                ? new Part(Field.UpstreamServiceTime, null, -1, token.MaxLength)
                : new Part(Field.ResponseHeader, null, Slot(_responseHeaders, header), token.MaxLength);
        }

        var known = KnownRequestField(header) ?? (alternative is null ? null : header == "x-envoy-original-path" ? KnownRequestField(alternative) : null);
        return known is { } fieldOfEntry
            ? new Part(fieldOfEntry, null, -1, token.MaxLength)
            : new Part(Field.RequestHeader, null, Slot(_requestHeaders, header), token.MaxLength);
    }

    private static Field? KnownRequestField(string header) => header switch
    {
        ":method" => Field.Method,
        ":path" => Field.Path,
        ":authority" or "host" => Field.Authority,
        "x-forwarded-for" => Field.ForwardedFor,
        "user-agent" => Field.UserAgent,
        "x-request-id" => Field.RequestId,
        _ => null,
    };

    private static int Slot(List<string> headers, string header)
    {
        var index = headers.IndexOf(header);
        if (index < 0)
        {
            headers.Add(header);
            index = headers.Count - 1;
        }

        return index;
    }

    private FieldValue Value(Part part, in AccessLogEntry e) => part.Field switch
    {
        Field.StartTime => new(e.StartTime.ToString(AccessLogFormatter.StartTimeFormat, CultureInfo.InvariantCulture)),
        Field.Method => new(e.Method),
        Field.Path => new(string.IsNullOrEmpty(e.PathBase) && string.IsNullOrEmpty(e.Path) ? null : string.Concat(e.PathBase, e.Path, e.Query)),
        Field.Authority => new(e.Authority),
        Field.ForwardedFor => new(e.ForwardedFor),
        Field.UserAgent => new(e.UserAgent),
        Field.RequestId => new(e.RequestId),
        Field.RequestHeader => new(e.Headers?[part.Slot]),
        Field.ResponseHeader => new(e.Headers?[_requestHeaders.Count + part.Slot]),
        Field.UpstreamServiceTime => e.UpstreamServiceTimeMs >= 0 ? FieldValue.Of(e.UpstreamServiceTimeMs) : default,
        Field.Protocol => new(e.Protocol),
        Field.ResponseCode => FieldValue.Of(e.ResponseCode),
        Field.ResponseFlags => new(ResponseFlagNames.Format(e.Flags)),
        Field.ResponseCodeDetails => new(e.ResponseCodeDetails),
        Field.BytesReceived => FieldValue.Of(e.BytesReceived),
        Field.BytesSent => FieldValue.Of(e.BytesSent),
        Field.Duration => FieldValue.Of(e.DurationMs),
        Field.UpstreamHost => new(e.UpstreamHost),
        Field.UpstreamCluster or Field.UpstreamClusterRaw => new(e.UpstreamCluster),
        Field.DownstreamLocalAddress => new(AccessLogFormatter.Address(e.LocalAddress, e.LocalPort, withPort: true)),
        Field.DownstreamLocalAddressWithoutPort => new(AccessLogFormatter.Address(e.LocalAddress, e.LocalPort, withPort: false)),
        Field.DownstreamRemoteAddress => new(AccessLogFormatter.Address(e.RemoteAddress, e.RemotePort, withPort: true)),
        Field.DownstreamRemoteAddressWithoutPort => new(AccessLogFormatter.Address(e.RemoteAddress, e.RemotePort, withPort: false)),
        Field.RouteName => new(e.RouteName == "-" ? null : e.RouteName),
        Field.AttemptCount => FieldValue.Of(e.UpstreamAttemptCount),
        Field.TraceId => new(e.TraceId.IsEmpty ? null : e.TraceId.ToString()),
        Field.Hostname => new(Environment.MachineName),
        _ => default,
    };
}
