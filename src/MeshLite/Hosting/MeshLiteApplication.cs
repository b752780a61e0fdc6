using System.Net;
using MeshLite.AccessLog;
using MeshLite.Admin;
using MeshLite.Configuration;
using MeshLite.DemoApp;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Istio;
using MeshLite.Lifecycle;
using MeshLite.Listeners;
using MeshLite.Metrics;
using MeshLite.Peers;
using MeshLite.Proxy;
using MeshLite.Tracing;
using MeshLite.Tracing.Breaks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Hosting;

/// <summary>Composes the sidecar: configuration, listeners, YARP, tracing, admin. Program and the tests both build it here.</summary>
public static partial class MeshLiteApplication
{
    /// <summary>Builds the sidecar; throws <see cref="MeshLiteConfigurationException"/> naming every bad key.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var file = ConfigurationFile.None;
        if (builder.Configuration["config"] is { Length: > 0 } configFile)
        {
            var path = Path.GetFullPath(configFile);
            if (!File.Exists(path))
            {
                throw new MeshLiteConfigurationException($"--config: the file '{path}' does not exist.");
            }

            try
            {
                file = ConfigurationFile.Add(builder.Configuration, path);
            }
            catch (InvalidDataException ex)
            {
                throw new MeshLiteConfigurationException($"--config: '{path}' is not valid JSON: {ex.InnerException?.Message ?? ex.Message}", ex);
            }


            // Command line and environment still win over the file.
            builder.Configuration.AddEnvironmentVariables();
            builder.Configuration.AddCommandLine(args);
        }

        configure?.Invoke(builder);
        builder.Services.AddSingleton(file);
        builder.Services.AddSingleton(AddIstio(builder.Configuration));
        builder.AddMeshLite();
        var app = builder.Build();
        app.MapMeshLite();
        return app;
    }

    /// <summary>
    /// Adds Istio's resources (<c>--istio</c> or <c>MeshLite:Istio:Path</c>), translated for this sidecar's identity,
    /// just above the configuration files: the environment, the command line and code still override them.
    /// </summary>
    private static IstioInput AddIstio(ConfigurationManager configuration)
    {
        var path = configuration["istio"] is { Length: > 0 } fromCommandLine ? fromCommandLine : configuration[$"{MeshLiteOptions.SectionName}:Istio:Path"];
        if (string.IsNullOrEmpty(path))
        {
            return IstioInput.None;
        }

        path = Path.GetFullPath(path);
        var workload = IstioWorkloads.From(configuration);
        var input = new IstioInput(path);
        var source = new IstioConfigurationSource(input, set => IstioTranslation.Translate(set, workload), workload.Namespace);
        var sources = configuration.Sources;
        var lastFile = -1;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is FileConfigurationSource)
            {
                lastFile = i;
            }
        }

        sources.Insert(lastFile + 1, source);
        return input;
    }

    internal static void AddMeshLite(this WebApplicationBuilder builder)
    {
        var settings = MeshLiteSettings.Load(builder.Configuration);
        var options = settings.Options;
        var services = builder.Services;

        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });

        // As Envoy does: diagnostics on stderr, the access log alone on stdout.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        // No per-request framework logs: the hosting "request starting" lines (and the Activity ASP.NET Core creates
        // for them) and YARP's "Proxying to" lines cost more than the proxying; MeshLite's own hop record replaces them.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp.ReverseProxy.Forwarder.HttpForwarder", LogLevel.Warning);

        // Kestrel warns that cleartext HTTP/2 needs ALPN; ListenerConnectionMiddleware provides prior knowledge instead.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);

        var bindings = new ListenerBindings();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.AllowAlternateSchemes = true;
            kestrel.ResponseHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
            kestrel.Limits.MaxRequestHeadersTotalSize = options.Limits.MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = options.Limits.MaxRequestHeaderCount;
            kestrel.Limits.MaxRequestBodySize = options.Limits.MaxRequestBodySize;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = Math.Max(kestrel.Limits.Http2.MaxRequestHeaderFieldSize, options.Limits.MaxRequestHeadersTotalSize);
            Listen(kestrel, bindings, ListenerKind.Inbound, options.Inbound.BindAddress, options.Inbound.Port, HttpProtocols.Http1AndHttp2);
            Listen(kestrel, bindings, ListenerKind.Outbound, options.Outbound.BindAddress, options.Outbound.Port, HttpProtocols.Http1AndHttp2);
            Listen(kestrel, bindings, ListenerKind.Admin, options.Admin.BindAddress, options.Admin.Port, HttpProtocols.Http1);
            Listen(kestrel, bindings, ListenerKind.Metrics, options.Metrics.BindAddress, options.Metrics.Port, HttpProtocols.Http1);
            if (options.DemoApp.Port is int echoPort)
            {
                Listen(kestrel, bindings, ListenerKind.DemoApp, "127.0.0.1", echoPort, HttpProtocols.Http1AndHttp2);
            }
        });

        // The settings as started (identity, listeners: what only a restart changes) and the live version of everything else.
        services.AddSingleton(settings);
        services.TryAddSingleton(IstioInput.None);
        services.TryAddSingleton(ConfigurationFile.None);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new LiveSettings(settings, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(bindings);
        services.AddSingleton<SidecarState>();
        services.AddSingleton<MatcherPolicy, ListenerMatcherPolicy>();

        // YARP's forwarder alone: MeshLite chooses the route and the endpoint itself (HopPipeline), from the
        // configuration version in effect, so no endpoint routing or proxy pipeline step runs per request.
        services.AddHttpForwarder();
        services.AddSingleton<UpstreamRetryMetrics>();
        services.AddSingleton<LiveUpstreams>();
        services.TryAddSingleton<HttpTransformer, SidecarTransformer>();
        services.AddSingleton<HopPipeline>();
        services.AddHostedService<ConfigurationReloader>();
        services.AddHostedService<GracefulDrain>();
        builder.Services.Configure<HostOptions>(host =>
        {
            // The drain period is spent inside the shutdown timeout: never let it leave the requests in flight no time.
            if (host.ShutdownTimeout != Timeout.InfiniteTimeSpan && host.ShutdownTimeout < options.TerminationDrainDuration + MinimumShutdownAfterDrain)
            {
                host.ShutdownTimeout = options.TerminationDrainDuration + DefaultShutdownAfterDrain;
            }
        });
        services.AddSingleton<MeshLiteMetrics>();
        services.AddSingleton<IstioMetrics>();
        services.AddSingleton<MetadataExchange>();
        services.AddSingleton<AccessLogWriter>();
        services.AddSingleton<AppProbeEndpoints>();
        services.AddMeshLiteTracing(builder.Configuration, settings);

        // The observers of a finished hop, in the order they run: the break detector first (a finished request leaves
        // its in-flight table), then the span, the metrics and the access line.
        services.AddSingleton<IHopObserver>(sp => sp.GetRequiredService<BreakClassifier>());
        services.AddSingleton<IHopObserver>(sp => sp.GetRequiredService<SpanTagger>());
        services.AddSingleton<IHopObserver>(sp => sp.GetRequiredService<IstioMetrics>());
        services.AddSingleton<IHopObserver, AccessLogObserver>();
    }

    internal static void MapMeshLite(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<MeshLiteSettings>();
        var bindings = app.Services.GetRequiredService<ListenerBindings>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MeshLite");
        app.Services.GetRequiredService<SidecarState>();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (var kind in bindings.Kinds)
            {
                var port = bindings.Port(kind);
                Log.Listening(logger, kind, port);
            }

            Log.Started(logger, settings.NodeId, settings.InboundClusterName);
        });
        if (app.Services.GetRequiredService<IstioInput>().Current is { } istio)
        {
            IstioLog.Loaded(logger, istio);
        }

        // Proxy traffic ends in the hop pipeline; only the admin, metrics and demo-app listeners reach routing.
        app.UseMiddleware<ListenerDispatchMiddleware>();
        app.UseRouting();
        AdminEndpoints.Map(app);
        MetricsEndpoints.Map(app);
        AppProbeEndpoints.Map(app);
        if (settings.Options.DemoApp.Port is not null)
        {
            DemoAppEndpoints.Map(app);
        }
    }

    private static readonly TimeSpan MinimumShutdownAfterDrain = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DefaultShutdownAfterDrain = TimeSpan.FromSeconds(25);

    private static void Listen(KestrelServerOptions kestrel, ListenerBindings bindings, ListenerKind kind, string address, int port, HttpProtocols protocols)
    {
        kestrel.Listen(IPAddress.Parse(address), port, listen =>
        {
            listen.Protocols = protocols;
            var detectHttp2 = protocols == HttpProtocols.Http1AndHttp2;
            listen.Use(next => new ListenerConnectionMiddleware(next, kind, detectHttp2).OnConnectionAsync);
            bindings.Add(kind, listen);
        });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 101, Level = LogLevel.Information, EventName = "Listening", Message = "{listener} listener on port {port}.")]
        public static partial void Listening(ILogger logger, ListenerKind listener, int port);

        [LoggerMessage(EventId = 102, Level = LogLevel.Information, EventName = "Started", Message = "MeshLite ready: node_id '{nodeId}', app cluster '{cluster}'.")]
        public static partial void Started(ILogger logger, string nodeId, string cluster);
    }
}
