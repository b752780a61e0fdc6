using MeshLite.Configuration;
using MeshLite.Hops;

namespace MeshLite.Tracing.Keep;

/// <summary><c>Tracing:Keep</c> of one configuration version: the rules, the slow thresholds by route and service, the storm budget.</summary>
internal sealed class KeepPolicy
{
    private readonly int? _slowerThanMs;
    private readonly SamplingOverrideOptions[] _slowInbound;
    private readonly Dictionary<string, int> _slowOutbound;

    public KeepPolicy(TracingOptions tracing)
    {
        var keep = tracing.Keep;
        Errors = keep.Errors;
        Breaks = keep.Breaks;
        ForwardTraceResponse = keep.ForwardTraceResponse;
        Budget = keep.MaxTracesPerSecond is { } budget ? new KeepBudget(budget) : null;
        _slowerThanMs = keep.SlowerThanMs;
        _slowInbound = [.. tracing.Overrides.Where(o => o.SlowerThanMs is not null && o.Service is null)];
        _slowOutbound = tracing.Overrides
            .Where(o => o.SlowerThanMs is not null && o.Service is not null)
            .GroupBy(o => o.Service!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Last().SlowerThanMs!.Value, StringComparer.OrdinalIgnoreCase);
    }

    public bool Errors { get; }
    public bool Breaks { get; }
    public bool ForwardTraceResponse { get; }
    public KeepBudget? Budget { get; }

    /// <summary>The slow-request threshold for a hop: the first matching route override (inbound) or the service's (outbound), else the default; null when off.</summary>
    public int? SlowerThanMs(HopFeature hop, string? path, string method)
    {
        if (hop.Listener == ListenerKind.Inbound)
        {
            foreach (var o in _slowInbound)
            {
                if (o.MatchesInbound(path, method))
                {
                    return o.SlowerThanMs;
                }
            }
        }
        else if (hop.Route.ServiceName is { } service && _slowOutbound.TryGetValue(service, out var threshold))
        {
            return threshold;
        }

        return _slowerThanMs;
    }
}
