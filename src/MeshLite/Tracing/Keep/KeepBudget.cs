using System.Diagnostics;
using MeshLite.Hops;

namespace MeshLite.Tracing.Keep;

/// <summary>
/// <c>Tracing:Keep:MaxTracesPerSecond</c>: in an error storm, a trace is kept only when a draw from its trace id is
/// below a threshold lowered to fit the budget (OpenTelemetry's consistent rate-limiting sampler does the same), not by
/// a coin of its own, so sidecars under the same storm keep the same traces and drop the same ones.
/// </summary>
internal sealed class KeepBudget
{
    private const int Scale = 10000;

    private readonly double _perSecond;
    private long _windowStart = Stopwatch.GetTimestamp();
    private int _candidates;
    private int _threshold = Scale;

    public KeepBudget(double perSecond) => _perSecond = perSecond;

    /// <summary>The current keep probability, out of 10000.</summary>
    public int Threshold => Volatile.Read(ref _threshold);

    public bool Admit(TraceIdentifier traceId) => Admit(traceId, Stopwatch.GetTimestamp());

    internal bool Admit(TraceIdentifier traceId, long now)
    {
        var start = Volatile.Read(ref _windowStart);
        if (now - start >= Stopwatch.Frequency && Interlocked.CompareExchange(ref _windowStart, now, start) == start)
        {
            // A new second: the threshold that would have fitted the last one's candidates.
            var seen = Interlocked.Exchange(ref _candidates, 0);
            Volatile.Write(ref _threshold, ThresholdFor(seen));
        }

        // Within the second, only ever lowered, so a storm that starts now is thinned at once.
        var candidates = Interlocked.Increment(ref _candidates);
        if (candidates > _perSecond)
        {
            var fitted = ThresholdFor(candidates);
            if (fitted < Volatile.Read(ref _threshold))
            {
                Volatile.Write(ref _threshold, fitted);
            }
        }

        return Draw(traceId) < Volatile.Read(ref _threshold);
    }

    /// <summary>0–9999 from the trace id's high bits: every hop of a trace draws the same, and not the head-sampling draw.</summary>
    internal static int Draw(TraceIdentifier traceId) => (int)((traceId.High >> 32) % Scale);

    private int ThresholdFor(int candidates) => candidates <= _perSecond ? Scale : Math.Max(1, (int)(_perSecond * Scale / candidates));
}
