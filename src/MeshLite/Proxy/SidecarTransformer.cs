using System.Diagnostics;
using System.Globalization;
using System.Net;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Peers;
using MeshLite.Routing;
using MeshLite.Tracing.Keep;
using MeshLite.Tracing.Propagation;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Proxy;

/// <summary>
/// Header and protocol handling as an Istio sidecar does it, on top of YARP's copy of every header: the Host is kept,
/// <c>x-forwarded-for</c> is not appended (sidecars are not the edge) but <c>x-forwarded-proto</c> is set when absent,
/// headers named by <c>Connection</c> are dropped, HTTP/2 is spoken upstream when the client spoke it (gRPC),
/// passthrough carries no mesh-internal header, and responses get <c>x-envoy-upstream-service-time</c> and Envoy's
/// <c>server</c> header. One instance serves every request; what differs per request comes from its hop. Not sealed:
/// tests derive from it to fail at a chosen step.
/// </summary>
internal class SidecarTransformer : HttpTransformer
{
    private const string XForwardedProto = "x-forwarded-proto";

    private readonly MetadataExchange _metadata;
    private readonly TraceKeeper _keeper;

    public SidecarTransformer(MetadataExchange metadata, TraceKeeper keeper)
    {
        _metadata = metadata;
        _keeper = keeper;
    }

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        // YARP's copy of the headers completes synchronously: no state machine unless it ever does not.
        var copy = base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        if (!copy.IsCompletedSuccessfully)
        {
            return AfterCopyAsync(copy, httpContext, proxyRequest, destinationPrefix);
        }

        OnRequest(httpContext, proxyRequest, destinationPrefix);
        return default;

        // Static, with everything passed in: a capture would allocate its closure on every request, async or not.
        static async ValueTask AfterCopyAsync(ValueTask copying, HttpContext context, HttpRequestMessage request, string prefix)
        {
            await copying;
            OnRequest(context, request, prefix);
        }
    }

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copy = base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (!copy.IsCompletedSuccessfully)
        {
            return AfterCopyAsync(copy, httpContext, proxyResponse);
        }

        OnResponse(httpContext, proxyResponse);
        return copy;

        async ValueTask<bool> AfterCopyAsync(ValueTask<bool> copying, HttpContext context, HttpResponseMessage? response)
        {
            var proxied = await copying;
            OnResponse(context, response);
            return proxied;
        }
    }

    private static void OnRequest(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix)
    {
        var hop = httpContext.Features.Get<HopFeature>()!;
        var route = hop.Route;
        var request = httpContext.Request;
        var requestHeaders = request.Headers;
        var headers = proxyRequest.Headers;

        RemoveConnectionNominatedHeaders(request, proxyRequest);
        if (requestHeaders.ContainsKey("Proxy-Connection"))
        {
            headers.Remove("Proxy-Connection");
        }

        if (!requestHeaders.ContainsKey(XForwardedProto))
        {
            headers.TryAddWithoutValidation(XForwardedProto, request.Scheme);
        }

        if (!IsUpgrade(httpContext))
        {
            var protocol = route.UpstreamProtocol;
            var http2 = string.Equals(protocol, UpstreamProtocols.Http2, StringComparison.OrdinalIgnoreCase)
                || string.Equals(protocol, "grpc", StringComparison.OrdinalIgnoreCase)
                || (!string.Equals(protocol, UpstreamProtocols.Http, StringComparison.OrdinalIgnoreCase) && HttpProtocol.IsHttp2(request.Protocol));
            proxyRequest.Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11;
            proxyRequest.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        switch (route.Kind)
        {
            case MeshRouteKind.Passthrough:
                // Passthrough leaves the mesh (Istio's IN_MESH mode): mesh-internal headers stay behind, whatever the app sent.
                headers.Remove(TraceHeaders.DecoratorOperation);
                headers.Remove(PeerMetadataCodec.Header);
                headers.Remove(PeerMetadataCodec.IdHeader);
                break;
            case MeshRouteKind.Inbound or MeshRouteKind.Registry when httpContext.Features.Get<UpstreamCluster>() is { } cluster:
                // The route or the cluster has a router policy: the cluster's client (UpstreamRetryHandler) counts the tries and needs the request's hop and cluster.
                proxyRequest.Options.Set(UpstreamRetryHandler.ContextKey, httpContext);
                proxyRequest.Options.Set(UpstreamRetryHandler.ClusterKey, cluster);
                proxyRequest.Options.Set(UpstreamRetryHandler.PolicyKey, httpContext.Features.Get<UpstreamPolicy>()!);
                break;
            case MeshRouteKind.Registry:
                headers.TryAddWithoutValidation(UpstreamRetryHandler.AttemptCountHeader, "1");
                break;
        }

        // Only a VirtualService rule's routes are named: no feature lookup for any other request.
        if (route.Name is not null && httpContext.Features.Get<RoutedRequest>() is { } routed)
        {
            ApplyRule(routed, request, proxyRequest, destinationPrefix);
        }

        hop.ForwardTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>A VirtualService rule's <c>rewrite</c> and request <c>headers</c>, after the usual copy.</summary>
    private static void ApplyRule(RoutedRequest routed, HttpRequest request, HttpRequestMessage proxyRequest, string destinationPrefix)
    {
        var rule = routed.Rule;
        if (rule.RewriteUri is not null)
        {
            var path = rule.RewritePath(request.Path.Value ?? "/", routed.MatchedPrefix);
            proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(destinationPrefix, new PathString(path), request.QueryString);
        }

        if (rule.RewriteAuthority is { } authority)
        {
            proxyRequest.Headers.Host = authority;
        }

        if (rule.RequestHeaders is { } operations)
        {
            Apply(operations, proxyRequest.Headers, static (headers, name) => headers.Remove(name),
                static (headers, name, value) => headers.TryAddWithoutValidation(name, value));
        }
    }

    private static void Apply<THeaders>(HeaderOperations operations, THeaders headers, Func<THeaders, string, bool> remove, Func<THeaders, string, string, bool> add)
    {
        foreach (var name in operations.Remove)
        {
            remove(headers, name);
        }

        foreach (var (name, value) in operations.Set)
        {
            remove(headers, name);
            add(headers, name, value);
        }

        foreach (var (name, value) in operations.Add)
        {
            add(headers, name, value);
        }
    }

    private void OnResponse(HttpContext httpContext, HttpResponseMessage? proxyResponse)
    {
        if (proxyResponse is null)
        {
            return;
        }

        var hop = httpContext.Features.Get<HopFeature>()!;
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
        SidecarResponseHeaders.Apply(httpContext.Response, hop, _keeper);
        if (hop.Route.Name is not null && httpContext.Features.Get<RoutedRequest>()?.Rule.ResponseHeaders is { } operations)
        {
            Apply(operations, headers, static (h, name) => h.Remove(name), static (h, name, value) =>
            {
                h.Append(name, value);
                return true;
            });
        }
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
