using System.Text.Json;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Hosting;

namespace MeshLite.EchoApp;

/// <summary>
/// A small app MeshLite can serve beside itself (<c>MeshLite:EchoApp:Port</c>) so the quick start needs nothing else:
/// it answers every request with what it received — method, path, and the headers, trace headers included.
/// </summary>
internal static class EchoAppEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.Map("/{**path}", static async context =>
            {
                var settings = context.RequestServices.GetRequiredService<MeshLiteSettings>();
                var request = context.Request;
                context.Response.ContentType = "application/json";
                await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
                json.WriteStartObject();
                json.WriteString("service", settings.ServiceName);
                json.WriteString("method", request.Method);
                json.WriteString("path", request.Path.Value);
                json.WriteString("query", request.QueryString.Value);
                json.WriteString("protocol", request.Protocol);
                json.WriteString("host", request.Host.Value);
                json.WriteStartObject("headers");
                foreach (var (name, values) in request.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
                {
                    json.WriteString(name.ToLowerInvariant(), values.ToString());
                }

                json.WriteEndObject();
                json.WriteEndObject();
            })
            .WithMetadata(new ListenerMetadata(ListenerKind.EchoApp))
            .WithDisplayName("EchoApp");
    }
}
