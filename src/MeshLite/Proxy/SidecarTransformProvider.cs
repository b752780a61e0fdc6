using System.Diagnostics;
using System.Globalization;
using System.Net;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Metrics;
using MeshLite.Tracing.Propagation;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace MeshLite.Proxy;

/// <summary>
/// Header and protocol handling as an Istio sidecar does it: the Host is kept, <c>x-forwarded-for</c> is not appended
/// (sidecars are not the edge) but <c>x-forwarded-proto</c> is set when absent, headers named by <c>Connection</c> are
/// dropped, HTTP/2 is spoken upstream when the client spoke it (gRPC), passthrough goes to the request's own Host without mesh-internal headers,
/// and responses get <c>x-envoy-upstream-service-time</c> and Envoy's <c>server</c> header.
/// </summary>
internal sealed class SidecarTransformProvider : ITransformProvider
{
    private const string XForwardedProto = "x-forwarded-proto";

    private readonly LiveRouteTable _routes;
    private readonly MetadataExchange _metadata;

    public SidecarTransformProvider(LiveRouteTable routes, MetadataExchange metadata)
    {
        _routes = routes;
        _metadata = metadata;
    }

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        var route = _routes.Current.Find(context.Route.RouteId);
        if (route is null)
        {
            return;
        }

        context.UseDefaultForwarders = false;
        context.AddOriginalHost(true);
        var forceHttp2 = string.Equals(route.UpstreamProtocol, UpstreamProtocols.Http2, StringComparison.OrdinalIgnoreCase)
            || string.Equals(route.UpstreamProtocol, "grpc", StringComparison.OrdinalIgnoreCase);
        var forceHttp1 = string.Equals(route.UpstreamProtocol, UpstreamProtocols.Http, StringComparison.OrdinalIgnoreCase);
        var passthrough = route.Kind == MeshRouteKind.Passthrough;

        context.AddRequestTransform(transform =>
        {
            var httpContext = transform.HttpContext;
            var request = httpContext.Request;
            var proxyRequest = transform.ProxyRequest;

            RemoveConnectionNominatedHeaders(request, proxyRequest);
            if (request.Headers.ContainsKey("Proxy-Connection"))
            {
                proxyRequest.Headers.Remove("Proxy-Connection");
            }

            if (!request.Headers.ContainsKey(XForwardedProto))
            {
                proxyRequest.Headers.TryAddWithoutValidation(XForwardedProto, request.Scheme);
            }

            if (!IsUpgrade(httpContext))
            {
                var http2 = forceHttp2 || (!forceHttp1 && HttpProtocol.IsHttp2(request.Protocol));
                proxyRequest.Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11;
                proxyRequest.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            }

            var hop = httpContext.Features.Get<HopFeature>();
            if (passthrough)
            {
                // Passthrough leaves the mesh (Istio's IN_MESH mode): mesh-internal headers stay behind, whatever the app sent.
                proxyRequest.Headers.Remove(TraceHeaders.DecoratorOperation);
                proxyRequest.Headers.Remove(PeerMetadataCodec.Header);
                proxyRequest.Headers.Remove(PeerMetadataCodec.IdHeader);

                var host = request.Host.Value;
                proxyRequest.RequestUri = new Uri($"http://{host}{request.PathBase}{request.Path}{request.QueryString}");
                if (hop is not null)
                {
                    hop.UpstreamHost = host;
                }
            }

            // With a policy the cluster's client (UpstreamRetryHandler) counts the tries itself and needs the request's hop.
            // Looked up per request: a reload can give a cluster a policy without changing this route.
            if (route.Kind != MeshRouteKind.Passthrough && _routes.Current.Policy(route.ClusterName) is not null)
            {
                proxyRequest.Options.Set(UpstreamRetryHandler.ContextKey, httpContext);
            }
            else if (route.Kind == MeshRouteKind.Registry)
            {
                proxyRequest.Headers.TryAddWithoutValidation(UpstreamRetryHandler.AttemptCountHeader, "1");
            }

            if (hop is not null)
            {
                hop.ForwardTimestamp = Stopwatch.GetTimestamp();
            }

            return default;
        });

        context.AddResponseTransform(transform =>
        {
            var httpContext = transform.HttpContext;
            var hop = httpContext.Features.Get<HopFeature>();
            if (hop is null || transform.ProxyResponse is null)
            {
                return default;
            }

            hop.ResponseCodeDetails = "via_upstream";
            var headers = httpContext.Response.Headers;
            if (hop.ForwardTimestamp != 0)
            {
                hop.UpstreamServiceTimeMs = (long)Stopwatch.GetElapsedTime(hop.ForwardTimestamp).TotalMilliseconds;
                headers["x-envoy-upstream-service-time"] = hop.UpstreamServiceTimeMs.ToString(CultureInfo.InvariantCulture);
            }

            if (hop.Listener == ListenerKind.Outbound && headers.TryGetValue(TraceHeaders.DecoratorOperation, out var operation))
            {
                // The destination named the operation: the client span takes that name, and the app never sees the header.
                if (operation.Count == 1 && !string.IsNullOrEmpty(operation[0]))
                {
                    hop.OperationName = operation[0]!;
                }

                headers.Remove(TraceHeaders.DecoratorOperation);
            }

            _metadata.OnResponse(headers, hop);
            SidecarResponseHeaders.Apply(httpContext.Response, hop);
            return default;
        });
    }

    private static bool IsUpgrade(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>()?.IsUpgradableRequest == true
        || context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>()?.IsExtendedConnect == true;

    /// <summary>RFC 9110 §7.6.1: headers listed in <c>Connection</c> are for this hop only.</summary>
    private static void RemoveConnectionNominatedHeaders(HttpRequest request, HttpRequestMessage proxyRequest)
    {
        var connection = request.Headers.Connection;
        if (connection.Count == 0)
        {
            return;
        }

        foreach (var value in connection)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                var name = value.AsSpan()[range].Trim();
                if (name.IsEmpty || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
                    || name.Equals("close", StringComparison.OrdinalIgnoreCase) || name.Equals("upgrade", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var header = name.ToString();
                proxyRequest.Headers.Remove(header);
                proxyRequest.Content?.Headers.Remove(header);
            }
        }
    }
}
