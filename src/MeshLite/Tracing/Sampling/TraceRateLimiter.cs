using System.Diagnostics;

namespace MeshLite.Tracing.Sampling;

/// <summary>
/// <c>Tracing:MaxTracesPerSecond</c>: a token bucket (as a generic cell-rate algorithm: one timestamp, no lock) holding
/// one second's worth of traces, refilled at the rate. Asked only for traces this sidecar would start by its own draw.
/// </summary>
public sealed class TraceRateLimiter
{
    private readonly long _interval;
    private readonly long _tolerance;
    private long _theoreticalArrival;

    public TraceRateLimiter(double perSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perSecond);
        _interval = Math.Max(1, (long)(Stopwatch.Frequency / perSecond));
        _tolerance = (long)((Math.Max(1, Math.Floor(perSecond)) - 1) * _interval);
        _theoreticalArrival = Stopwatch.GetTimestamp();
    }

    public bool TryAcquire() => TryAcquire(Stopwatch.GetTimestamp());

    internal bool TryAcquire(long now)
    {
        while (true)
        {
            var arrival = Volatile.Read(ref _theoreticalArrival);
            var start = Math.Max(arrival, now);
            if (start - now > _tolerance)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _theoreticalArrival, start + _interval, arrival) == arrival)
            {
                return true;
            }
        }
    }
}
