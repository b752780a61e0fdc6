using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Export;
using MeshLite.Tracing.Keep;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MeshLite.Tracing;

internal static class TracingServiceCollectionExtensions
{
    private const string OtlpRetryVariable = "OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY";

    /// <summary>
    /// The OpenTelemetry SDK as the tracing driver: MeshLite's source only (so neither YARP's, ASP.NET Core's nor the
    /// OTLP exporter's own HTTP calls become spans), the Istio resource naming, a batched and bounded OTLP exporter
    /// when an endpoint is configured, and the in-memory ring behind <c>/debug/traces</c> always.
    /// </summary>
    public static IServiceCollection AddMeshLiteTracing(this IServiceCollection services, IConfiguration configuration, MeshLiteSettings settings)
    {
        var tracing = settings.Options.Tracing;
        var otlp = OtlpTarget.Resolve(configuration, tracing.Otlp);
        services.AddSingleton(otlp);

        // Every span the ring holds outlives the young generation; when spans are exported, a short ring is enough.
        var ring = new DebugSpanRing(tracing.DebugSpanCapacity
            ?? (otlp.Enabled ? TracingOptions.DebugSpanCapacityWhenExporting : TracingOptions.DebugSpanCapacityWithoutExport));
        services.AddSingleton(ring);
        services.AddSingleton<LiveTracingPolicy>();
        services.AddSingleton<HopTracer>();
        services.AddSingleton<SpanTagger>();
        services.AddSingleton(new InflightInbound());
        services.AddSingleton<BreakClassifier>();
        services.AddSingleton<BreakReports>();
        services.AddSingleton<TraceKeeper>();

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService(serviceName: $"{settings.ServiceName}.{settings.Namespace}", serviceNamespace: settings.Namespace,
                    serviceInstanceId: $"{settings.PodName}.{settings.Namespace}", autoGenerateServiceInstanceId: false)
                .AddAttributes(
                [
                    new("k8s.pod.name", settings.PodName),
                    new("k8s.namespace.name", settings.Namespace),
                    new("istio.mesh_id", settings.Options.MeshId),
                    new("node_id", settings.NodeId),
                ]))
            .WithTracing(builder =>
            {
                builder.AddSource(MeshLiteTelemetry.SourceName)

                    // The decision is made before the span exists (TraceSampler, from x-request-id), so that unsampled
                    // requests allocate no span; every span that is started is one to record.
                    .SetSampler(new AlwaysOnSampler())
                    .AddProcessor(ring);

                if (otlp.Enabled)
                {
                    // The exporter's own retry (connection failures, 429/502/503/504 honouring Retry-After, gRPC
                    // UNAVAILABLE, …, until its timeout) is switched on by this variable alone; without it a collector
                    // that blinks loses the whole batch. An operator's own value (e.g. "disk") is kept.
                    if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(OtlpRetryVariable)))
                    {
                        Environment.SetEnvironmentVariable(OtlpRetryVariable, "in_memory");
                    }

                    builder.AddProcessor(sp =>
                    {
                        var exporter = new OtlpTraceExporter(new OtlpExporterOptions
                        {
                            Endpoint = otlp.Endpoint!,
                            Protocol = otlp.Protocol,
                            Headers = otlp.Headers,
                            TimeoutMilliseconds = otlp.TimeoutMilliseconds,
                        });
                        return new CountingBatchExportProcessor(exporter, sp.GetRequiredService<MeshLiteMetrics>(),
                            tracing.Otlp.MaxQueueSize, tracing.Otlp.MaxExportBatchSize, tracing.Otlp.ScheduledDelayMilliseconds);
                    });
                }
            });

        return services;
    }
}

/// <summary>
/// Where spans go: <c>MeshLite:Tracing:Otlp:*</c> first, then the standard <c>OTEL_EXPORTER_OTLP_*</c> variables.
/// No endpoint means no exporter (spans stay in the <c>/debug/traces</c> ring).
/// </summary>
internal sealed record OtlpTarget(bool Enabled, Uri? Endpoint, OtlpExportProtocol Protocol, string? Headers, int TimeoutMilliseconds)
{
    public static OtlpTarget Resolve(IConfiguration configuration, OtlpOptions options)
    {
        var endpoint = Nonempty(options.Endpoint)
            ?? Nonempty(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
            ?? Nonempty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var protocolName = Nonempty(options.Protocol)
            ?? Nonempty(configuration["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"])
            ?? Nonempty(configuration["OTEL_EXPORTER_OTLP_PROTOCOL"])
            ?? "grpc";
        var protocol = protocolName == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        var headers = Nonempty(options.Headers) ?? Nonempty(configuration["OTEL_EXPORTER_OTLP_HEADERS"]);
        var timeout = options.TimeoutMilliseconds
            ?? (int.TryParse(configuration["OTEL_EXPORTER_OTLP_TIMEOUT"], System.Globalization.CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 10000);
        if (endpoint is null || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            return new OtlpTarget(false, null, protocol, headers, timeout);
        }

        // An endpoint given in code is used as-is by the exporter; OTLP/HTTP wants the signal path.
        if (protocol == OtlpExportProtocol.HttpProtobuf && uri.AbsolutePath.TrimEnd('/').Length == 0)
        {
            uri = new Uri(uri, "/v1/traces");
        }

        return new OtlpTarget(true, uri, protocol, headers, timeout);
    }

    private static string? Nonempty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
