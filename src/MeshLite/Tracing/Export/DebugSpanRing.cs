using System.Diagnostics;
using MeshLite.Hops;
using OpenTelemetry;

namespace MeshLite.Tracing.Export;

/// <summary>
/// Keeps the last finished spans in a fixed ring for <c>/debug/traces</c>, so traces are visible with nothing else
/// installed. Writers never wait on each other or on readers; a reader may see a slot being overwritten, which a
/// debug page can live with.
/// </summary>
internal sealed class DebugSpanRing : BaseProcessor<Activity>
{
    private readonly Activity?[] _slots;
    private long _next = -1;

    public DebugSpanRing(int capacity) => _slots = new Activity?[capacity];

    public int Capacity => _slots.Length;

    public override void OnEnd(Activity data)
    {
        if (_slots.Length == 0 || !data.Recorded)
        {
            return;
        }

        var index = Interlocked.Increment(ref _next);
        Volatile.Write(ref _slots[index % _slots.Length], data);
    }

    /// <summary>Newest first, at most <paramref name="limit"/>, optionally only spans of <paramref name="traceId"/>.</summary>
    public List<Activity> Snapshot(int limit, TraceIdentifier? traceId)
    {
        var result = new List<Activity>();
        var newest = Volatile.Read(ref _next);
        for (long i = newest; i >= 0 && i > newest - _slots.Length && result.Count < limit; i--)
        {
            var span = Volatile.Read(ref _slots[i % _slots.Length]);
            if (span is not null && (traceId is null || TraceIdentifier.From(span.TraceId) == traceId.Value))
            {
                result.Add(span);
            }
        }

        return result;
    }
}
