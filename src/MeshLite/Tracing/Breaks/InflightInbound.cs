using MeshLite.Hops;

namespace MeshLite.Tracing.Breaks;

/// <summary>
/// The inbound requests the local app is serving right now, so an outbound call can be matched to the request that
/// caused it. A fixed array of slots claimed with compare-and-swap: no lock, no allocation, bounded memory. Slots are
/// taken lowest-first, so a scan reads only as far as the highest slot ever in use, which stays near the concurrency.
/// When every slot is taken, the request is simply not tracked.
/// </summary>
internal sealed class InflightInbound
{
    private readonly HopFeature?[] _slots;
    private int _highWater;

    public InflightInbound(int capacity = 1024) => _slots = new HopFeature?[capacity];

    public void Add(HopFeature hop)
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            if (Volatile.Read(ref _slots[i]) is null && Interlocked.CompareExchange(ref _slots[i], hop, null) is null)
            {
                hop.InflightSlot = i;
                int seen;
                while ((seen = Volatile.Read(ref _highWater)) <= i && Interlocked.CompareExchange(ref _highWater, i + 1, seen) != seen)
                {
                }

                return;
            }
        }
    }

    public void Remove(HopFeature hop)
    {
        if (hop.InflightSlot >= 0)
        {
            Interlocked.CompareExchange(ref _slots[hop.InflightSlot], null, hop);
            hop.InflightSlot = -1;
        }
    }

    /// <summary>Calls <paramref name="visit"/> for each in-flight inbound request (a snapshot; entries may end meanwhile).</summary>
    public void ForEach<TState>(ref TState state, Visitor<TState> visit)
    {
        var limit = Math.Min(Volatile.Read(ref _highWater), _slots.Length);
        for (var i = 0; i < limit; i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } hop)
            {
                visit(ref state, hop);
            }
        }
    }

    public delegate void Visitor<TState>(ref TState state, HopFeature hop);
}
