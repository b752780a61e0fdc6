using System.Net;
using MeshLite.Hops;

namespace MeshLite.AccessLog;

/// <summary>
/// One access-log line's facts, captured at the end of a request without formatting anything: strings the request
/// already holds, numbers and ids — and, under a custom format, that format and the extra headers it names. The
/// writer formats off the request path.
/// </summary>
internal readonly record struct AccessLogEntry(
    DateTime StartTime,
    string Method,
    string? PathBase,
    string? Path,
    string? Query,
    string Protocol,
    int ResponseCode,
    ResponseFlags Flags,
    string? ResponseCodeDetails,
    long BytesReceived,
    long BytesSent,
    long DurationMs,
    long UpstreamServiceTimeMs,
    string? ForwardedFor,
    string? UserAgent,
    string? RequestId,
    string? Authority,
    string? UpstreamHost,
    string? UpstreamCluster,
    IPAddress? LocalAddress,
    int LocalPort,
    IPAddress? RemoteAddress,
    int RemotePort,
    string RouteName,
    TraceIdentifier TraceId,
    SpanIdentifier SpanId,
    bool Sampled,
    int UpstreamAttemptCount = 0,
    AccessLogFormat? Format = null,
    string?[]? Headers = null);
