using System.Text.Json;
using System.Text.Json.Nodes;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Istio;
using MeshLite.Lifecycle;
using MeshLite.Listeners;
using MeshLite.Proxy;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Export;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MeshLite.Admin;

/// <summary>The admin port (127.0.0.1:15000 by default), Envoy's admin surface in miniature. Never proxied, never traced.</summary>
internal static class AdminEndpoints
{
    private static readonly (string Path, string Description)[] _index =
    [
        ("/healthz/ready", "200 once every listener is up, 503 while draining"),
        ("/config_dump", "the effective configuration as JSON (secrets redacted)"),
        ("/clusters", "each cluster, its timeout and its endpoints"),
        ("/debug/traces", "the newest finished spans as OTLP JSON (?limit=, ?traceId=)"),
        ("/debug/propagation", "which calls of the app broke the trace, and why"),
        ("/drain_listeners", "POST: start draining (readiness turns 503)"),
        ("/quitquitquit", "POST: drain and exit (a Job's app ends its sidecar this way when it is not a native sidecar)"),
    ];

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var admin = new ListenerMetadata(ListenerKind.Admin);
        endpoints.MapGet("/", static context => WriteIndexAsync(context)).WithMetadata(admin);
        // Readiness is served on the metrics port too: the admin port stays on loopback, where the kubelet cannot reach it.
        foreach (var listener in new[] { admin, new ListenerMetadata(ListenerKind.Metrics) })
        {
            endpoints.MapGet("/healthz/ready", static context =>
            {
                var state = context.RequestServices.GetRequiredService<SidecarState>();
                context.Response.StatusCode = state.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
                context.Response.ContentType = "text/plain";
                return context.Response.WriteAsync(state.Ready ? "LIVE\n" : state.Draining ? "DRAINING\n" : "PRE_INITIALIZING\n");
            }).WithMetadata(listener);
        }

        endpoints.MapPost("/drain_listeners", static context =>
        {
            context.RequestServices.GetRequiredService<SidecarState>().Drain();
            return context.Response.WriteAsync("OK\n");
        }).WithMetadata(admin);
        endpoints.MapPost("/quitquitquit", static context =>
        {
            context.RequestServices.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            return context.Response.WriteAsync("OK\n");
        }).WithMetadata(admin);
        endpoints.MapGet("/config_dump", static context => WriteConfigDumpAsync(context)).WithMetadata(admin);
        endpoints.MapGet("/clusters", static context => WriteClustersAsync(context)).WithMetadata(admin);
        endpoints.MapGet("/debug/traces", static context => WriteTracesAsync(context)).WithMetadata(admin);
        endpoints.MapGet("/debug/propagation", static context => WritePropagationAsync(context)).WithMetadata(admin);
    }

    private static Task WriteIndexAsync(HttpContext context)
    {
        context.Response.ContentType = "text/plain";
        var lines = string.Join('\n', _index.Select(e => $"{e.Path,-20} {e.Description}"));
        return context.Response.WriteAsync("MeshLite admin\n\n" + lines + "\n");
    }

    private static async Task WriteConfigDumpAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var version = services.GetRequiredService<LiveSettings>().Version;
        var settings = version.Settings;
        var file = services.GetRequiredService<ConfigurationFile>();
        var bindings = services.GetRequiredService<ListenerBindings>();
        var options = JsonSerializer.SerializeToNode(settings.Options, ConfigurationJsonContext.Default.MeshLiteOptions)!.AsObject();
        if (options["Tracing"]?["Otlp"] is JsonObject otlp && otlp["Headers"] is not null)
        {
            otlp["Headers"] = "[redacted]";
        }

        var listeners = new JsonObject();
        foreach (var kind in bindings.Kinds)
        {
            listeners[kind.ToString()] = bindings.Port(kind);
        }

        var configuration = new JsonObject
        {
            ["version"] = version.Number,
            ["loaded_at"] = Timestamp(version.LoadedAt),
            ["file"] = file.Path,
            ["reloads"] = file.Path is null ? "off (no --config file)" : "on (edits of the file apply live)",
            ["restart_required"] = new JsonArray([.. version.RestartRequired.Select(k => (JsonNode?)k)]),
        };
        if (version.LastRejection is { } rejection)
        {
            configuration["last_rejected"] = new JsonObject
            {
                ["at"] = Timestamp(rejection.At),
                ["errors"] = new JsonArray([.. rejection.Errors.Select(e => (JsonNode?)e)]),
            };
        }

        var dump = new JsonObject
        {
            ["configuration"] = configuration,
            ["identity"] = new JsonObject
            {
                ["node_id"] = settings.NodeId,
                ["service"] = settings.ServiceFqdn,
                ["pod_name"] = settings.PodName,
                ["pod_ip"] = settings.PodIp,
            },
            ["listeners"] = listeners,
            ["meshlite"] = options,
        };
        if (services.GetRequiredService<IstioInput>() is { Path: { } istioPath, Current: { } istio })
        {
            dump["istio"] = IstioDump(istioPath, istio, services.GetRequiredService<IConfiguration>());
        }

        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        dump.WriteTo(json);
    }

    /// <summary>
    /// What <c>--istio</c> contributed: for each effective setting the resource it came from
    /// (<c>"Tracing:Sampling": "Telemetry istio-system/mesh-default"</c>), or the note that a later source overrides it.
    /// </summary>
    private static JsonObject IstioDump(string path, IstioTranslation istio, IConfiguration configuration)
    {
        var settings = new JsonObject();
        foreach (var setting in istio.Settings.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            var overridden = setting.Keys.Where(k => configuration[$"{MeshLiteOptions.SectionName}:{k.Key}"] != k.Value).Select(k => $"{MeshLiteOptions.SectionName}:{k.Key}").ToList();
            settings[setting.Name] = overridden.Count == 0
                ? setting.Source
                : $"{setting.Source} (overridden by the environment or command line: {string.Join(", ", overridden)})";
        }

        return new JsonObject
        {
            ["path"] = path,
            ["read"] = istio.Summary,
            ["settings"] = settings,
            ["warnings"] = new JsonArray([.. istio.Warnings.Select(w => (JsonNode?)w)]),
        };
    }

    private static async Task WriteClustersAsync(HttpContext context)
    {
        var upstreams = context.RequestServices.GetRequiredService<LiveUpstreams>().Current;
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartArray("clusters");
        foreach (var cluster in upstreams.All.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("name", cluster.Name);

            // Istio's route timeout as the forwarder applies it (YARP's activity timeout); "none" unless the service sets one.
            json.WriteString("timeout", cluster.RequestConfig.ActivityTimeout is { } timeout && timeout != Timeout.InfiniteTimeSpan
                ? timeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture)
                : "none");
            json.WriteStartArray("endpoints");
            foreach (var endpoint in cluster.Endpoints)
            {
                json.WriteStartObject();
                json.WriteString("address", endpoint.Address);
                json.WriteNumber("active_requests", endpoint.ActiveRequests);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static async Task WritePropagationAsync(HttpContext context)
    {
        var breaks = context.RequestServices.GetRequiredService<BreakReports>();
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("stitch", context.RequestServices.GetRequiredService<BreakClassifier>().Mode.ToString().ToLowerInvariant());
        json.WriteNumber("unattributed_calls", breaks.Unattributed);
        json.WriteStartArray("breaks");
        foreach (var report in breaks.Reports)
        {
            json.WriteStartObject();
            json.WriteString("inbound_route", report.Route);
            json.WriteString("destination", report.Destination);
            json.WriteNumber("missing", report.Missing);
            json.WriteNumber("mismatch", report.Mismatch);
            json.WriteNumber("partial", report.Partial);
            json.WriteString("last_confidence", report.LastConfidence);
            json.WriteStartArray("example_request_ids");
            foreach (var id in report.ExampleRequestIds())
            {
                json.WriteStringValue(id);
            }

            json.WriteEndArray();
            json.WriteString("diagnosis", breaks.Diagnose(report));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static async Task WriteTracesAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var ring = services.GetRequiredService<DebugSpanRing>();
        var query = context.Request.Query;
        var limit = int.TryParse(query["limit"], out var l) && l > 0 ? Math.Min(l, ring.Capacity) : 100;
        TraceIdentifier? traceId = null;
        if (query["traceId"].ToString() is { Length: 32 } hex)
        {
            if (!TraceIdentifier.TryParse(hex, lowercaseOnly: false, allowShort: false, out var parsed, out _))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("traceId must be 32 hex characters\n");
                return;
            }

            traceId = parsed;
        }

        var resource = services.GetRequiredService<TracerProvider>().GetResource();
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        OtlpJsonWriter.Write(json, resource, ring.Snapshot(limit, traceId));
    }

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
}
