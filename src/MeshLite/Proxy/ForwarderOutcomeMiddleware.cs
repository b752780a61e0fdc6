using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MeshLite.Configuration;
using MeshLite.Hops;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace MeshLite.Proxy;

/// <summary>
/// A step of the YARP pipeline that turns YARP's forwarding errors into Envoy's outcomes: status code, response flag,
/// <c>%RESPONSE_CODE_DETAILS%</c> and a local-reply body naming the flag. It also refuses passthrough requests that
/// would loop back into the outbound listener.
/// </summary>
internal sealed class ForwarderOutcomeMiddleware
{
    private const string ResetBeforeHeaders = "upstream connect error or disconnect/reset before headers. reset reason: ";

    private const int MaxCachedAuthorities = 1024;

    private readonly RequestDelegate _next;
    private readonly MeshLiteSettings _settings;
    private readonly LiveSettings _live;
    private readonly ConcurrentDictionary<string, string?> _authorities = new(StringComparer.Ordinal);

    public ForwarderOutcomeMiddleware(RequestDelegate next, MeshLiteSettings settings, LiveSettings live)
    {
        _next = next;
        _settings = settings;
        _live = live;
    }

    public Task Invoke(HttpContext context)
    {
        var hop = context.Features.Get<HopFeature>();
        if (hop is null)
        {
            return _next(context);
        }

        if (hop.Route.Kind == MeshRouteKind.Passthrough && IsLoopOrEmpty(context))
        {
            return LocalReply.WriteAsync(context, hop, StatusCodes.Status404NotFound, ResponseFlags.NoRouteFound, "route_not_found",
                $"route not found: '{context.Request.Host.Value}' is not a destination MeshLite can route to");
        }

        if (_settings.Options.Limits.MaxRequestBodySize is long limit && context.Request.ContentLength > limit)
        {
            return LocalReply.WriteAsync(context, hop, StatusCodes.Status413PayloadTooLarge, ResponseFlags.None, "request_payload_too_large", "Payload Too Large");
        }

        var fault = _live.Current.Options.Fault;
        if (hop.Route.Kind == MeshRouteKind.Inbound && (fault.Delay.Percentage > 0 || fault.Abort.Percentage > 0))
        {
            return InvokeWithFaultsAsync(context, hop, fault);
        }

        return InvokeAsync(context, hop);
    }

    /// <summary>Istio's fault injection, as Envoy's fault filter applies it: the delay first, then the abort.</summary>
    private async Task InvokeWithFaultsAsync(HttpContext context, HopFeature hop, FaultOptions fault)
    {
        if (fault.Delay.Percentage > 0 && Random.Shared.NextDouble() * 100 < fault.Delay.Percentage)
        {
            hop.Flags |= ResponseFlags.DelayInjected;
            await Task.Delay(fault.Delay.FixedDelayMs, context.RequestAborted);
        }

        if (fault.Abort.Percentage > 0 && Random.Shared.NextDouble() * 100 < fault.Abort.Percentage)
        {
            await LocalReply.WriteAsync(context, hop, fault.Abort.HttpStatus, ResponseFlags.FaultInjected, "fault_filter_abort", "fault filter abort");
            return;
        }

        await InvokeAsync(context, hop);
    }

    private async Task InvokeAsync(HttpContext context, HopFeature hop)
    {
        await _next(context);

        if (hop.UpstreamHost is null && context.Features.Get<IReverseProxyFeature>()?.ProxiedDestination is { } destination)
        {
            hop.UpstreamHost = Authority(destination.Model.Config.Address);
        }

        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null)
        {
            return;
        }

        var (status, flag, details, message) = Classify(error.Error, error.Exception, context.Response.HasStarted);
        if (flag == ResponseFlags.DownstreamConnectionTermination || context.Response.HasStarted)
        {
            hop.Flags |= flag;
            hop.ResponseCodeDetails = details;
            return;
        }

        await LocalReply.WriteAsync(context, hop, status, flag, details, message);
    }

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

    /// <summary>A destination's <c>host:port</c>, parsed once per address: destinations are few and long-lived.</summary>
    private string? Authority(string address)
    {
        if (_authorities.TryGetValue(address, out var authority))
        {
            return authority;
        }

        authority = Uri.TryCreate(address, UriKind.Absolute, out var uri) ? uri.Authority : null;
        if (_authorities.Count < MaxCachedAuthorities)
        {
            _authorities.TryAdd(address, authority);
        }

        return authority;
    }

    private bool IsLoopOrEmpty(HttpContext context)
    {
        var host = context.Request.Host;
        if (!host.HasValue)
        {
            return true;
        }

        var port = host.Port ?? 80;
        if (port != context.Connection.LocalPort && port != _settings.Options.Outbound.Port)
        {
            return false;
        }

        var name = host.Host;
        return string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)
            || string.Equals(name, _settings.PodIp, StringComparison.Ordinal)
            || (IPAddress.TryParse(name.Trim('[', ']'), out var ip) && (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(context.Connection.LocalIpAddress)));
    }
}
