using MeshLite.Hops;
using MeshLite.Listeners;

namespace MeshLite.Proxy;

/// <summary>The outbound routes MeshLite answers itself: <c>BlackHoleCluster</c> under <c>REGISTRY_ONLY</c>.</summary>
internal static class MeshLocalRoutes
{
    public static void MapBlackHole(IEndpointRouteBuilder endpoints)
    {
        endpoints.Map("/{**catch-all}", static context =>
            {
                var hop = context.Features.Get<HopFeature>()!;
                return LocalReply.WriteAsync(context, hop, StatusCodes.Status502BadGateway, ResponseFlags.None, "direct_response",
                    $"BlackHoleCluster: '{context.Request.Host.Value}' is not in the service registry and MeshLite:OutboundTrafficPolicy is REGISTRY_ONLY");
            })
            .WithOrder(int.MaxValue)
            .WithMetadata(new ListenerMetadata(ListenerKind.Outbound), MeshRouteTable.BlackHole)
            .WithDisplayName("BlackHoleCluster");
    }
}
