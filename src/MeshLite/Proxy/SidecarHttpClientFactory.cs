using System.Text;
using MeshLite.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// YARP's client with the runtime's trace propagation switched off: MeshLite writes every trace header itself, once,
/// and the runtime's propagator would otherwise remove <c>baggage</c> and rewrite <c>traceparent</c> after us.
/// </summary>
internal sealed class SidecarHttpClientFactory : ForwarderHttpClientFactory
{
    private readonly Dictionary<string, UpstreamPolicy?> _policies = new(StringComparer.Ordinal);
    private readonly UpstreamRetryMetrics _retryMetrics;
    private readonly UpstreamHandlerOverride? _handlerOverride;

    /// <summary>A factory for the clusters of one configuration version, whose router policies it applies.</summary>
    public SidecarHttpClientFactory(RouteTable routes, UpstreamRetryMetrics retryMetrics, UpstreamHandlerOverride? handlerOverride = null)
    {
        _handlerOverride = handlerOverride;
        foreach (var cluster in routes.Clusters)
        {
            if (cluster.Policy is not null || cluster.RulePolicies)
            {
                _policies[cluster.Name] = cluster.Policy;
            }
        }

        _retryMetrics = retryMetrics;
    }

    /// <summary>A cluster whose retry policy or timeout changed gets a new client; one whose endpoints changed keeps its connections.</summary>
    protected override bool CanReuseOldClient(ForwarderHttpClientContext context) =>
        base.CanReuseOldClient(context)
        && string.Equals(context.OldMetadata?.GetValueOrDefault(UpstreamPolicy.MetadataKey), context.NewMetadata?.GetValueOrDefault(UpstreamPolicy.MetadataKey), StringComparison.Ordinal);

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
    {
        handler = _handlerOverride?.Create() ?? base.WrapHandler(context, handler);
        return _policies.TryGetValue(context.ClusterId, out var policy)
            ? new UpstreamRetryHandler(handler, policy, _retryMetrics, context.ClusterId)
            : handler;
    }

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ActivityHeadersPropagator = null;

        // Istio's default connect timeout.
        handler.ConnectTimeout = TimeSpan.FromSeconds(10);

        // Envoy forwards header bytes it accepted as they came. Kestrel decodes request headers as UTF-8, so they are
        // written back as UTF-8 (the default would refuse anything beyond ASCII and fail the request); response headers
        // are read and written (see MeshLiteApplication) as Latin-1, which maps every byte to itself.
        handler.RequestHeaderEncodingSelector = static (_, _) => Encoding.UTF8;
        handler.ResponseHeaderEncodingSelector = static (_, _) => Encoding.Latin1;
    }
}
