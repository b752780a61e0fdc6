namespace MeshLite.Hops;

/// <summary>
/// Reads a finished hop: the span, the Istio metrics and the access log are observers, and none of them knows another.
/// Each is called once per hop, after the response is done; one that throws does not keep the others from running.
/// </summary>
internal interface IHopObserver
{
    /// <summary>The stage named in <c>meshlite_internal_errors_total</c> when this observer fails.</summary>
    public string Stage { get; }

    /// <summary>Whether this observer, as now configured, reads <see cref="HopFeature.StartTime"/> (a clock read per request otherwise saved).</summary>
    public bool WantsStartTime { get; }

    public void OnHopCompleted(HopFeature hop, HttpContext context);
}
