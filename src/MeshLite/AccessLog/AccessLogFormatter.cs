using System.Globalization;
using System.Text;
using System.Text.Json;
using MeshLite.Hops;

namespace MeshLite.AccessLog;

/// <summary>
/// Istio's access-log formats: the default TEXT line (<c>EnvoyTextLogFormat</c>: same fields, same order, <c>-</c> for
/// empty) and the JSON encoding (typed values, <c>null</c> for unset), each with the trace and span id added last.
/// </summary>
internal static class AccessLogFormatter
{
    public static void AppendText(StringBuilder line, in AccessLogEntry e)
    {
        line.Append(CultureInfo.InvariantCulture, $"[{e.StartTime:yyyy-MM-ddTHH:mm:ss.fffZ}] \"").Append(e.Method).Append(' ');
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
            .Append(Dash(e.ForwardedFor)).Append("\" \"")
            .Append(Dash(e.UserAgent)).Append("\" \"")
            .Append(Dash(e.RequestId)).Append("\" \"")
            .Append(Dash(e.Authority)).Append("\" \"")
            .Append(Dash(e.UpstreamHost)).Append("\" ")
            .Append(Dash(e.UpstreamCluster)).Append(" - ");
        AppendAddress(line, e.LocalAddress, e.LocalPort);
        line.Append(' ');
        AppendAddress(line, e.RemoteAddress, e.RemotePort);
        line.Append(" - ").Append(e.RouteName).Append(' ');
        Span<char> id = stackalloc char[32];
        AppendId(line, e.TraceId.IsEmpty ? default : id[..e.TraceId.WriteHex(id)]);
        line.Append(' ');
        AppendId(line, e.SpanId.IsEmpty ? default : id[..e.SpanId.WriteHex(id)]);
        line.Append('\n');
    }

    public static void WriteJson(Utf8JsonWriter json, in AccessLogEntry e)
    {
        json.WriteStartObject();
        json.WriteString("start_time", e.StartTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        json.WriteString("route_name", e.RouteName == "-" ? null : e.RouteName);
        json.WriteString("method", e.Method);
        var path = new StringBuilder();
        AppendPath(path, e);
        json.WriteString("path", path.ToString());
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

        line.Append(e.PathBase).Append(e.Path).Append(e.Query);
    }

    private static void AppendAddress(StringBuilder line, System.Net.IPAddress? address, int port) =>
        line.Append(Address(address, port) ?? "-");

    private static string? Address(System.Net.IPAddress? address, int port) =>
        address is null ? null : new System.Net.IPEndPoint(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, port).ToString();

    private static string Dash(string? value) => string.IsNullOrEmpty(value) ? "-" : value;
}
