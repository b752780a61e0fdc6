namespace MeshLite.Admin;

/// <summary>Readiness as Envoy reports it: not ready until the listeners are up, and not ready again once draining starts.</summary>
internal sealed class SidecarState
{
    private volatile bool _started;
    private volatile bool _draining;

    public SidecarState(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStarted.Register(() => _started = true);
        lifetime.ApplicationStopping.Register(Drain);
    }

    public bool Ready => _started && !_draining;

    public bool Draining => _draining;

    public void Drain() => _draining = true;
}
