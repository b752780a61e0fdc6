using System.Diagnostics;

namespace MeshLite.Lifecycle;

/// <summary>
/// Readiness as Envoy reports it: not ready until the listeners are up, and not ready again once draining starts —
/// on <c>POST /drain_listeners</c>, or on SIGTERM, whichever comes first.
/// </summary>
internal sealed class SidecarState
{
    private volatile bool _started;
    private long _drainStarted;

    public SidecarState(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStarted.Register(() => _started = true);
        lifetime.ApplicationStopping.Register(() => Drain());
    }

    public bool Ready => _started && !Draining;

    public bool Draining => Volatile.Read(ref _drainStarted) != 0;

    /// <summary>How long the drain has lasted; zero when not draining.</summary>
    public TimeSpan DrainingFor => Volatile.Read(ref _drainStarted) is var started and not 0 ? Stopwatch.GetElapsedTime(started) : TimeSpan.Zero;

    /// <summary>Starts draining; true only for the call that started it.</summary>
    public bool Drain() => Interlocked.CompareExchange(ref _drainStarted, Stopwatch.GetTimestamp(), 0) == 0;
}
