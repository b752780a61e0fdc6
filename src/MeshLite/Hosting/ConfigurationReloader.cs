using System.Text.Json;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Istio;
using MeshLite.Proxy;
using Microsoft.Extensions.Primitives;
using Prometheus;

namespace MeshLite.Hosting;

/// <summary>
/// Applies edits of the <c>--config</c> file while the sidecar runs, as Envoy applies a new xDS version: the whole
/// edit is validated first; a valid one replaces the routes, the clusters and every observer's
/// settings at once (requests in flight finish on what they started with); an invalid one is refused with a log line
/// naming each bad key and <c>meshlite_config_reloads_total{result="rejected"}</c>, and the last good version stays.
/// </summary>
internal sealed partial class ConfigurationReloader : IHostedService, IDisposable
{
    private readonly IConfiguration _configuration;
    private readonly ConfigurationFile _file;
    private readonly IstioInput _istio;
    private readonly LiveSettings _live;
    private readonly LiveUpstreams _upstreams;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigurationReloader> _logger;
    private readonly Counter.Child _accepted;
    private readonly Counter.Child _rejected;
    private readonly Gauge _version;
    private readonly Lock _gate = new();
    private IDisposable? _subscription;
    private IstioTranslation? _istioLogged;

    public ConfigurationReloader(IConfiguration configuration, ConfigurationFile file, IstioInput istio, LiveSettings live, LiveUpstreams upstreams,
        MeshLiteMetrics metrics, TimeProvider time, ILogger<ConfigurationReloader> logger)
    {
        _configuration = configuration;
        _file = file;
        _istio = istio;
        _istioLogged = istio.Current;
        _live = live;
        _upstreams = upstreams;
        _time = time;
        _logger = logger;
        var reloads = metrics.Factory.CreateCounter("meshlite_config_reloads_total",
            "Edits of the configuration file: accepted (now live) or rejected (the previous version stayed).", ["result"]);
        _accepted = reloads.WithLabels("accepted");
        _rejected = reloads.WithLabels("rejected");
        _accepted.Publish();
        _rejected.Publish();
        _version = metrics.Factory.CreateGauge("meshlite_config_version", "The configuration version in effect: 1 at start, one more per accepted edit.");
        _version.Set(1);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_file.Path is not null || _istio.Path is not null)
        {
            _subscription = ChangeToken.OnChange(_configuration.GetReloadToken, Reload);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _subscription?.Dispose();

    internal void Reload()
    {
        lock (_gate)
        {
            var running = _live.Current;
            MeshLiteSettings next;
            IReadOnlyList<string> restartRequired;
            try
            {
                if (_file.TakeParseError() is { } parseError)
                {
                    throw new MeshLiteConfigurationException(parseError);
                }

                if (_istio.TakeError() is { } istioError)
                {
                    throw new MeshLiteConfigurationException(istioError);
                }

                if (_istio.Current is { } istio && !ReferenceEquals(istio, _istioLogged))
                {
                    _istioLogged = istio;
                    IstioLog.Loaded(_logger, istio);
                }

                next = MeshLiteSettings.Reload(running, _configuration, out restartRequired);
            }
            catch (MeshLiteConfigurationException ex)
            {
                _rejected.Inc();
                _live.Reject(ex.Errors, _time.GetUtcNow());
                Log.Rejected(_logger, _live.Version.Number, string.Join("; ", ex.Errors));
                return;
            }

            // A save often raises several change events; only a change of what is in effect makes a new version.
            if (SameEffect(running, next) && restartRequired.SequenceEqual(_live.Version.RestartRequired))
            {
                return;
            }

            _upstreams.Update(next);
            _live.Publish(next, restartRequired, _time.GetUtcNow());
            _accepted.Inc();
            _version.Set(_live.Version.Number);
            Log.Accepted(_logger, _live.Version.Number);
            if (restartRequired.Count > 0)
            {
                Log.RestartRequired(_logger, string.Join(", ", restartRequired));
            }
        }
    }

    private static bool SameEffect(MeshLiteSettings running, MeshLiteSettings next) =>
        JsonSerializer.Serialize(running.Options, ConfigurationJsonContext.Default.MeshLiteOptions)
        == JsonSerializer.Serialize(next.Options, ConfigurationJsonContext.Default.MeshLiteOptions);

    private static partial class Log
    {
        [LoggerMessage(EventId = 120, Level = LogLevel.Information, EventName = "ConfigurationAccepted",
            Message = "Configuration version {version} is live.")]
        public static partial void Accepted(ILogger logger, int version);

        [LoggerMessage(EventId = 121, Level = LogLevel.Error, EventName = "ConfigurationRejected",
            Message = "Configuration edit rejected; version {version} stays live: {errors}")]
        public static partial void Rejected(ILogger logger, int version, string errors);

        [LoggerMessage(EventId = 122, Level = LogLevel.Warning, EventName = "ConfigurationRestartRequired",
            Message = "These edited keys take effect only after a restart, and keep their running values until then: {keys}")]
        public static partial void RestartRequired(ILogger logger, string keys);
    }
}
