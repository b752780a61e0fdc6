using System.Net.Sockets;
using MeshLite.Hops;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// Envoy's outcome for each of YARP's forwarding errors: status code, response flag, <c>%RESPONSE_CODE_DETAILS%</c>
/// and the local-reply text naming the reset reason.
/// </summary>
internal static class ForwarderOutcome
{
    private const string ResetBeforeHeaders = "upstream connect error or disconnect/reset before headers. reset reason: ";

    internal static (int Status, ResponseFlags Flag, string Details, string Message) Classify(ForwarderError error, Exception? exception, bool responseStarted)
    {
        switch (error)
        {
            case ForwarderError.NoAvailableDestinations:
                return (503, ResponseFlags.NoHealthyUpstream, "no_healthy_upstream", "no healthy upstream");
            case ForwarderError.RequestTimedOut:
                return (504, ResponseFlags.UpstreamRequestTimeout, "upstream_response_timeout", "upstream request timeout");
            case ForwarderError.RequestBodyClient when FindPayloadTooLarge(exception):
                return (413, ResponseFlags.None, "request_payload_too_large", "Payload Too Large");
            case ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
                or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient or ForwarderError.UpgradeRequestCanceled
                or ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeResponseCanceled or ForwarderError.UpgradeResponseClient:
                return (0, ResponseFlags.DownstreamConnectionTermination, "downstream_remote_disconnect", "downstream disconnected");
            case ForwarderError.Request or ForwarderError.RequestBodyDestination:
                return ClassifyUpstreamFailure(exception, responseStarted);
            case ForwarderError.ResponseBodyDestination or ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination:
                return ClassifyUpstreamFailure(exception, responseStarted: true);
            case ForwarderError.ResponseHeaders:
                return (502, ResponseFlags.UpstreamProtocolError, "upstream_reset_before_response_started{protocol_error}", "upstream protocol error");
            default:
                return (502, ResponseFlags.LocalReset, "proxy_error", "proxy error: " + error);
        }
    }

    /// <summary>A chunked body that grew past <c>MeshLite:Limits:MaxRequestBodySize</c> while it streamed.</summary>
    private static bool FindPayloadTooLarge(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                return true;
            }
        }

        return false;
    }

    private static (int, ResponseFlags, string, string) ClassifyUpstreamFailure(Exception? exception, bool responseStarted)
    {
        var when = responseStarted ? "upstream_reset_after_response_started" : "upstream_reset_before_response_started";
        var (flag, reason) = Reason(exception);
        var status = flag == ResponseFlags.UpstreamProtocolError ? 502 : 503;
        return (status, flag, $"{when}{{{reason}}}", ResetBeforeHeaders + reason.Replace('_', ' '));
    }

    /// <summary>Envoy's flag and reset reason for an exception from the upstream client.</summary>
    internal static (ResponseFlags Flag, string Reason) Reason(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpProtocolException:
                    return (ResponseFlags.UpstreamRemoteReset, "remote_reset");
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }:
                    return (ResponseFlags.UpstreamConnectionFailure, "connection_failure");
                case HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError }:
                    return (ResponseFlags.UpstreamProtocolError, "protocol_error");
                case HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded }:
                    return (ResponseFlags.UpstreamConnectionTermination, "connection_termination");
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.TimedOut or SocketError.HostNotFound }:
                    return (ResponseFlags.UpstreamConnectionFailure, "connection_failure");
                case SocketException or IOException:
                    return (ResponseFlags.UpstreamConnectionTermination, "connection_termination");
            }
        }

        return (ResponseFlags.UpstreamConnectionTermination, "connection_termination");
    }
}
