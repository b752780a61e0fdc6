using MeshLite.Hops;
using Microsoft.Extensions.Primitives;

namespace MeshLite.AccessLog;

/// <summary>Writes one access-log line per finished hop, when the log is on: the line's facts are taken, the writer formats them off the request path.</summary>
internal sealed class AccessLogObserver : IHopObserver
{
    private readonly AccessLogWriter _writer;
    private readonly TimeProvider _time;

    public AccessLogObserver(AccessLogWriter writer, TimeProvider time)
    {
        _writer = writer;
        _time = time;
    }

    public string Stage => "access_log";

    public bool WantsStartTime => _writer.Enabled;

    public void OnHopCompleted(HopFeature hop, HttpContext context)
    {
        if (!_writer.Enabled)
        {
            return;
        }

        var request = context.Request;
        var headers = request.Headers;
        var connection = context.Connection;

        // The log may have been switched on while the request ran: its start is then worked out from its duration.
        var start = hop.StartTime == default ? _time.GetUtcNow().UtcDateTime - hop.Duration : hop.StartTime;
        var format = _writer.Format;
        _writer.Write(new AccessLogEntry(
            start, request.Method, request.PathBase.Value, request.Path.Value, request.QueryString.Value, request.Protocol,
            hop.StatusCode, hop.Flags, hop.ResponseCodeDetails, hop.BytesReceived, hop.BytesSent, (long)hop.Duration.TotalMilliseconds, hop.UpstreamServiceTimeMs,
            First(headers["x-forwarded-for"]), First(headers.UserAgent), hop.RequestId, request.Host.Value, hop.UpstreamHost, hop.Route.ClusterName,
            connection.LocalIpAddress, connection.LocalPort, connection.RemoteIpAddress, connection.RemotePort, hop.Route.RouteName,
            hop.TraceId, hop.SpanId, hop.Sampling.Sampled, hop.AttemptCount, format, format?.Capture(headers, context.Response.Headers)));
    }

    private static string? First(StringValues values) => values.Count > 0 ? values[0] : null;
}
