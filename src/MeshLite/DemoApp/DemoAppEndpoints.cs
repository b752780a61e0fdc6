using System.Text.Json;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Listeners;
using MeshLite.Tracing.Propagation;

namespace MeshLite.DemoApp;

/// <summary>
/// The app MeshLite can serve beside itself (<c>MeshLite:DemoApp:*</c>), so the quick start and the local mesh need
/// nothing else installed. Its behaviour is configuration: latency, errors, the services it calls (sequentially or in
/// parallel, through this sidecar's outbound listener) and whether it forwards the trace headers. By default it answers
/// with what it received, trace headers included.
/// </summary>
internal static class DemoAppEndpoints
{
    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.Map("/{**path}", static context => HandleAsync(context))
            .WithMetadata(new ListenerMetadata(ListenerKind.DemoApp))
            .WithDisplayName("DemoApp");
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var settings = context.RequestServices.GetRequiredService<LiveSettings>().Current;
        var app = settings.Options.DemoApp;
        var delay = app.LatencyMs + (app.LatencyJitterMs > 0 ? Random.Shared.Next(app.LatencyJitterMs + 1) : 0);
        if (delay > 0)
        {
            await Task.Delay(delay, context.RequestAborted);
        }

        var outbound = context.RequestServices.GetRequiredService<ListenerBindings>().Port(ListenerKind.Outbound);
        var calls = new (string Service, int Status)[app.Calls.Count];
        if (app.Parallel)
        {
            await Task.WhenAll(app.Calls.Select(async (service, i) => calls[i] = (service, await CallAsync(context, service, outbound, app.ForwardHeaders))));
        }
        else
        {
            for (var i = 0; i < app.Calls.Count; i++)
            {
                calls[i] = (app.Calls[i], await CallAsync(context, app.Calls[i], outbound, app.ForwardHeaders));
            }
        }

        var failed = calls.FirstOrDefault(c => c.Status is 0 or >= 500);
        context.Response.StatusCode = app.ErrorRate > 0 && Random.Shared.NextDouble() < app.ErrorRate ? app.ErrorStatus
            : failed.Service is not null ? StatusCodes.Status502BadGateway
            : StatusCodes.Status200OK;

        if (app.ResponseBytes is int size)
        {
            context.Response.ContentType = "text/plain";
            context.Response.ContentLength = size;
            var chunk = new byte[Math.Min(size, 16 * 1024)];
            chunk.AsSpan().Fill((byte)'x');
            for (var remaining = size; remaining > 0; remaining -= chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, remaining)), context.RequestAborted);
            }

            return;
        }

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
        json.WriteStartArray("calls");
        foreach (var (service, status) in calls)
        {
            json.WriteStartObject();
            json.WriteString("service", service);
            json.WriteNumber("status", status);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("headers");
        foreach (var (name, values) in request.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
        {
            json.WriteString(name.ToLowerInvariant(), values.ToString());
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static async Task<int> CallAsync(HttpContext context, string service, int outboundPort, bool forwardHeaders)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outboundPort}{context.Request.Path}");
        request.Headers.Host = service;
        if (forwardHeaders)
        {
            foreach (var name in TraceHeaders.ForwardedByApps)
            {
                if (context.Request.Headers.TryGetValue(name, out var value))
                {
                    request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)value);
                }
            }
        }

        try
        {
            using var response = await _client.SendAsync(request, context.RequestAborted);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }
}
