using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MeshLite.Hops;

namespace MeshLite.AccessLog;

/// <summary>
/// Istio's access-log formats: the default TEXT line (<c>EnvoyTextLogFormat</c>: same fields, same order, <c>-</c> for
/// empty) and the JSON encoding (typed values, <c>null</c> for unset), each with the trace id, the span id and Envoy's
/// <c>%UPSTREAM_REQUEST_ATTEMPT_COUNT%</c> added last.
/// </summary>
internal static class AccessLogFormatter
{
    /// <summary>Envoy's <c>%START_TIME%</c>: UTC to the millisecond.</summary>
    public const string StartTimeFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    public static void AppendText(StringBuilder line, in AccessLogEntry e)
    {
        Span<char> time = stackalloc char[32];
        e.StartTime.TryFormat(time, out var written, StartTimeFormat, CultureInfo.InvariantCulture);
        line.Append('[').Append(time[..written]).Append("] \"").Append(e.Method).Append(' ');
        AppendPath(line, e);
        line.Append(' ').Append(e.Protocol).Append("\" ")
            .Append(e.ResponseCode).Append(' ')
            .Append(ResponseFlagNames.Format(e.Flags)).Append(' ')
            .Append(Dash(e.ResponseCodeDetails)).Append(' ')
            .Append("- \"-\" ")
            .Append(e.BytesReceived).Append(' ')
            .Append(e.BytesSent).Append(' ')
            .Append(e.DurationMs).Append(' ');
        if (e.UpstreamServiceTimeMs >= 0)
        {
            line.Append(e.UpstreamServiceTimeMs);
        }
        else
        {
            line.Append('-');
        }

        line.Append(" \"")
            .AppendEscaped(e.ForwardedFor).Append("\" \"")
            .AppendEscaped(e.UserAgent).Append("\" \"")
            .AppendEscaped(e.RequestId).Append("\" \"")
            .AppendEscaped(e.Authority).Append("\" \"")
            .AppendEscaped(e.UpstreamHost).Append("\" ")
            .Append(Dash(e.UpstreamCluster)).Append(" - ");
        AppendAddress(line, e.LocalAddress, e.LocalPort);
        line.Append(' ');
        AppendAddress(line, e.RemoteAddress, e.RemotePort);
        line.Append(" - ").Append(e.RouteName).Append(' ');
        Span<char> id = stackalloc char[32];
        AppendId(line, e.TraceId.IsEmpty ? default : id[..e.TraceId.WriteHex(id)]);
        line.Append(' ');
        AppendId(line, e.SpanId.IsEmpty ? default : id[..e.SpanId.WriteHex(id)]);
        line.Append(' ').Append(e.UpstreamAttemptCount);
        line.Append('\n');
    }

    public static void WriteJson(Utf8JsonWriter json, in AccessLogEntry e)
    {
        json.WriteStartObject();
        json.WriteString("start_time", e.StartTime.ToString(StartTimeFormat, CultureInfo.InvariantCulture));
        json.WriteString("route_name", e.RouteName == "-" ? null : e.RouteName);
        json.WriteString("method", e.Method);
        json.WriteString("path", string.IsNullOrEmpty(e.PathBase) && string.IsNullOrEmpty(e.Path) ? "-" : string.Concat(e.PathBase, e.Path, e.Query));
        json.WriteString("protocol", e.Protocol);
        json.WriteNumber("response_code", e.ResponseCode);
        json.WriteString("response_flags", ResponseFlagNames.Format(e.Flags));
        json.WriteString("response_code_details", e.ResponseCodeDetails);
        json.WriteNull("connection_termination_details");
        json.WriteNumber("bytes_received", e.BytesReceived);
        json.WriteNumber("bytes_sent", e.BytesSent);
        json.WriteNumber("duration", e.DurationMs);
        json.WriteString("upstream_service_time", e.UpstreamServiceTimeMs >= 0 ? e.UpstreamServiceTimeMs.ToString(CultureInfo.InvariantCulture) : null);
        json.WriteString("x_forwarded_for", e.ForwardedFor);
        json.WriteString("user_agent", e.UserAgent);
        json.WriteString("request_id", e.RequestId);
        json.WriteString("authority", e.Authority);
        json.WriteString("upstream_host", e.UpstreamHost);
        json.WriteString("upstream_cluster", e.UpstreamCluster);
        json.WriteNull("upstream_local_address");
        json.WriteString("downstream_local_address", Address(e.LocalAddress, e.LocalPort));
        json.WriteString("downstream_remote_address", Address(e.RemoteAddress, e.RemotePort));
        json.WriteNull("requested_server_name");
        json.WriteNull("upstream_transport_failure_reason");
        Span<char> id = stackalloc char[32];
        if (e.TraceId.IsEmpty)
        {
            json.WriteNull("trace_id");
            json.WriteNull("span_id");
        }
        else
        {
            json.WriteString("trace_id", id[..e.TraceId.WriteHex(id)]);
            json.WriteString("span_id", id[..e.SpanId.WriteHex(id)]);
        }

        json.WriteNumber("upstream_request_attempt_count", e.UpstreamAttemptCount);
        json.WriteEndObject();
    }

    private static void AppendId(StringBuilder line, ReadOnlySpan<char> id)
    {
        if (id.IsEmpty)
        {
            line.Append('-');
        }
        else
        {
            line.Append(id);
        }
    }

    private static void AppendPath(StringBuilder line, in AccessLogEntry e)
    {
        if (string.IsNullOrEmpty(e.PathBase) && string.IsNullOrEmpty(e.Path))
        {
            line.Append('-');
            return;
        }

        line.AppendEscaped(e.PathBase, dashWhenEmpty: false).AppendEscaped(e.Path, dashWhenEmpty: false).AppendEscaped(e.Query, dashWhenEmpty: false);
    }

    private static void AppendAddress(StringBuilder line, System.Net.IPAddress? address, int port) =>
        line.Append(Address(address, port) ?? "-");

    /// <summary>Envoy's <c>%DOWNSTREAM_*_ADDRESS%</c> (IPv4-mapped addresses as IPv4), or the address alone for <c>_WITHOUT_PORT</c>.</summary>
    internal static string? Address(System.Net.IPAddress? address, int port, bool withPort = true)
    {
        if (address is null)
        {
            return null;
        }

        var ip = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return withPort ? new System.Net.IPEndPoint(ip, port).ToString() : ip.ToString();
    }

    private static string Dash(string? value) => string.IsNullOrEmpty(value) ? "-" : value;
}

/// <summary>
/// Caller-controlled text in a TEXT line (the decoded path, header values) is escaped so that it can neither end the
/// line nor close a quoted field: control characters, <c>"</c> and <c>\</c> are written as C-style escapes.
/// </summary>
internal static class AccessLogTextEscaping
{
    private static readonly SearchValues<char> _special = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\"\\\u007f");

    public static StringBuilder AppendEscaped(this StringBuilder line, string? value, bool dashWhenEmpty = true)
    {
        if (string.IsNullOrEmpty(value))
        {
            return dashWhenEmpty ? line.Append('-') : line;
        }

        var rest = value.AsSpan();
        int i;
        while ((i = rest.IndexOfAny(_special)) >= 0)
        {
            line.Append(rest[..i]);
            var c = rest[i];
            _ = c switch
            {
                '\n' => line.Append("\\n"),
                '\r' => line.Append("\\r"),
                '\t' => line.Append("\\t"),
                '"' => line.Append("\\\""),
                '\\' => line.Append("\\\\"),
                _ => line.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)),
            };
            rest = rest[(i + 1)..];
        }

        return line.Append(rest);
    }
}
