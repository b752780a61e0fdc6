using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Listeners;

namespace MeshLite.Admin;

/// <summary><c>/stats/prometheus</c>, on the metrics port (Envoy's 15090, all interfaces) and on the admin port.</summary>
internal static class MetricsEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        foreach (var listener in new[] { ListenerKind.Metrics, ListenerKind.Admin })
        {
            endpoints.MapGet("/stats/prometheus", static async context =>
            {
                var metrics = context.RequestServices.GetRequiredService<MeshLiteMetrics>();
                context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
            }).WithMetadata(new ListenerMetadata(listener));
        }
    }
}
