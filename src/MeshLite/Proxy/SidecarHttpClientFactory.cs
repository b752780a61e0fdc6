using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// YARP's client with the runtime's trace propagation switched off: MeshLite writes every trace header itself, once,
/// and the runtime's propagator would otherwise remove <c>baggage</c> and rewrite <c>traceparent</c> after us.
/// </summary>
internal sealed class SidecarHttpClientFactory : ForwarderHttpClientFactory
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ActivityHeadersPropagator = null;

        // Istio's default connect timeout.
        handler.ConnectTimeout = TimeSpan.FromSeconds(10);
    }
}
