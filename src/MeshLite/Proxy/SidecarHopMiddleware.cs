using System.Diagnostics;
using MeshLite.Hops;
using MeshLite.Tracing;
using Microsoft.AspNetCore.Http.Features;

namespace MeshLite.Proxy;

/// <summary>
/// Runs once per request on the inbound and outbound listeners, after routing: opens the hop record, counts body
/// bytes, starts tracing (ids, sampling, header writes) before YARP copies the headers, and closes the hop — span
/// tags and end — when the response is done. Admin and echo-app requests pass straight through, untraced.
/// </summary>
internal sealed class SidecarHopMiddleware
{
    private readonly RequestDelegate _next;
    private readonly HopTracer _tracer;

    public SidecarHopMiddleware(RequestDelegate next, HopTracer tracer)
    {
        _next = next;
        _tracer = tracer;
    }

    public Task Invoke(HttpContext context)
    {
        var listener = context.Features.Get<ListenerFeature>()?.Kind ?? ListenerKind.Admin;
        if (listener is not (ListenerKind.Inbound or ListenerKind.Outbound))
        {
            return _next(context);
        }

        var route = context.GetEndpoint()?.Metadata.GetMetadata<MeshRoute>()
            ?? (listener == ListenerKind.Inbound ? MeshRouteTable.InboundNoRoute : MeshRouteTable.OutboundNoRoute);
        var hop = new HopFeature(listener, route, Stopwatch.GetTimestamp());
        context.Features.Set(hop);

        var requestBody = new CountingRequestBody(context.Request.Body);
        context.Request.Body = requestBody;
        hop.RequestBody = requestBody;
        if (context.Features.Get<IHttpResponseBodyFeature>() is { } responseBodyFeature)
        {
            var responseBody = new CountingResponseBody(responseBodyFeature);
            context.Features.Set<IHttpResponseBodyFeature>(responseBody);
            hop.ResponseBody = responseBody;
        }

        _tracer.Start(context, hop);
        return InvokeAsync(context, hop);
    }

    private async Task InvokeAsync(HttpContext context, HopFeature hop)
    {
        try
        {
            await _next(context);
        }
        catch (Exception) when (!context.Response.HasStarted)
        {
            hop.Flags |= ResponseFlags.LocalReset;
            hop.ResponseCodeDetails ??= "internal_error";
            _tracer.Finish(context, hop, StatusCodes.Status500InternalServerError);
            throw;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            hop.Flags |= ResponseFlags.DownstreamConnectionTermination;
            hop.ResponseCodeDetails ??= "downstream_remote_disconnect";
        }

        var statusCode = (hop.Flags & ResponseFlags.DownstreamConnectionTermination) != 0 && !context.Response.HasStarted
            ? 0
            : context.Response.StatusCode;
        _tracer.Finish(context, hop, statusCode);
    }
}
