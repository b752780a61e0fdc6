using System.Diagnostics;
using MeshLite.AccessLog;
using MeshLite.Configuration;
using MeshLite.Lifecycle;
using OpenTelemetry.Trace;

namespace MeshLite.Hosting;

/// <summary>
/// Shutdown as Istio's agent drives Envoy, but without cutting what is in flight. On SIGTERM:
/// <list type="number">
/// <item>readiness turns 503 at once (so the endpoint is taken out of rotation) and each HTTP/1 response on a proxy
/// listener closes its connection, so callers reconnect elsewhere;</item>
/// <item>the listeners keep serving for <c>MeshLite:TerminationDrainDuration</c> (5 s), counted from
/// <c>POST /drain_listeners</c> when that came first, because callers learn of the change late;</item>
/// <item>the server stops accepting and waits for every request in flight (bounded by the host's shutdown timeout);</item>
/// <item>queued access-log lines and spans are flushed, then the process exits.</item>
/// </list>
/// </summary>
internal sealed partial class GracefulDrain : IHostedLifecycleService
{
    private readonly SidecarState _state;
    private readonly LiveSettings _live;
    private readonly AccessLogWriter _accessLog;
    private readonly IServiceProvider _services;
    private readonly ILogger<GracefulDrain> _logger;
    private const int SpanFlushTimeoutMilliseconds = 10_000;

    private long _stopping;

    public GracefulDrain(SidecarState state, LiveSettings live, AccessLogWriter accessLog, IServiceProvider services, ILogger<GracefulDrain> logger)
    {
        _state = state;
        _live = live;
        _accessLog = accessLog;
        _services = services;
        _logger = logger;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs before any hosted service stops, so the listeners are still open while it waits.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _stopping = Stopwatch.GetTimestamp();
        _state.Drain();
        var duration = _live.Current.Options.TerminationDrainDuration;
        var remaining = duration - _state.DrainingFor;
        var remainingSeconds = Math.Max(0, remaining.TotalSeconds);
        Log.Draining(_logger, duration.TotalSeconds, remainingSeconds);
        if (remaining > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(remaining, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The host's shutdown timeout is shorter than the drain: stop now rather than be killed.
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(_stopping);
        Log.ClosingListeners(_logger, elapsed.TotalMilliseconds);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs after the server has stopped: no request can end a span or write a line any more.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var inFlightDone = Stopwatch.GetElapsedTime(_stopping);
        await _accessLog.FlushAsync(cancellationToken);
        var flushed = true;
        if (_services.GetService<TracerProvider>() is { } tracer)
        {
            flushed = await Task.Run(() => tracer.ForceFlush(SpanFlushTimeoutMilliseconds), cancellationToken);
        }

        var total = Stopwatch.GetElapsedTime(_stopping);
        Log.Drained(_logger, inFlightDone.TotalMilliseconds, total.TotalMilliseconds, flushed);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 130, Level = LogLevel.Information, EventName = "Draining",
            Message = "Draining: readiness is 503; the listeners keep serving for the drain period ({drainSeconds} s, {remainingSeconds:0.###} s left).")]
        public static partial void Draining(ILogger logger, double drainSeconds, double remainingSeconds);

        [LoggerMessage(EventId = 131, Level = LogLevel.Information, EventName = "ClosingListeners",
            Message = "Drain period over after {elapsedMs:0} ms: the listeners stop accepting; requests in flight finish.")]
        public static partial void ClosingListeners(ILogger logger, double elapsedMs);

        [LoggerMessage(EventId = 132, Level = LogLevel.Information, EventName = "Drained",
            Message = "Drained: requests in flight done at {inFlightDoneMs:0} ms, access log and spans flushed at {flushedMs:0} ms (spans flushed: {spansFlushed}).")]
        public static partial void Drained(ILogger logger, double inFlightDoneMs, double flushedMs, bool spansFlushed);
    }
}
