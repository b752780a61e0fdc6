using MeshLite.Hops;
using MeshLite.Proxy;

namespace MeshLite.Hosting;

/// <summary>
/// The first step of every request: traffic of the inbound and outbound listeners goes straight to the hop pipeline
/// (and ends there); admin, metrics and demo-app traffic goes on to endpoint routing, whose table proxy traffic never sees.
/// </summary>
internal sealed class ListenerDispatchMiddleware
{
    private readonly RequestDelegate _next;
    private readonly HopPipeline _hops;

    public ListenerDispatchMiddleware(RequestDelegate next, HopPipeline hops)
    {
        _next = next;
        _hops = hops;
    }

    public Task Invoke(HttpContext context)
    {
        var listener = context.Features.Get<ListenerFeature>()?.Kind ?? ListenerKind.Admin;
        return listener is ListenerKind.Inbound or ListenerKind.Outbound ? _hops.Invoke(context, listener) : _next(context);
    }
}
