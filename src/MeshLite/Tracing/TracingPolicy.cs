using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Keep;
using MeshLite.Tracing.Sampling;

namespace MeshLite.Tracing;

/// <summary>Everything tracing takes from one configuration version; replaced whole when a reload is accepted.</summary>
internal sealed class TracingPolicy
{
    private readonly string[] _excludePaths;

    public TracingPolicy(TracingOptions tracing)
    {
        Enabled = tracing.Enabled;
        TrustForceTrace = tracing.TrustForceTraceFromMesh;
        MaxPathTagLength = tracing.MaxPathTagLength;
        ResponseTraceHeader = tracing.ResponseTraceHeader;
        Sampler = new TraceSampler(tracing);
        CustomTags = new CustomTags(tracing.CustomTags, Environment.GetEnvironmentVariable);
        _excludePaths = [.. tracing.ExcludePaths ?? TracingOptions.DefaultExcludePaths];
        Inject = TraceFormats.FromNames(tracing.Propagation, TracingOptions.DefaultPropagation);
        RateLimiter = tracing.MaxTracesPerSecond is { } cap ? new TraceRateLimiter(cap) : null;
        var keep = tracing.Keep;
        KeepErrors = keep.Errors;
        KeepBreaks = keep.Breaks;
        ForwardTraceResponse = keep.ForwardTraceResponse;
        KeepBudget = keep.MaxTracesPerSecond is { } budget ? new KeepBudget(budget) : null;
        _slowerThanMs = keep.SlowerThanMs;
        _slowInbound = [.. tracing.Overrides.Where(o => o.SlowerThanMs is not null && o.Service is null)];
        _slowOutbound = tracing.Overrides
            .Where(o => o.SlowerThanMs is not null && o.Service is not null)
            .GroupBy(o => o.Service!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Last().SlowerThanMs!.Value, StringComparer.OrdinalIgnoreCase);
    }

    private readonly int? _slowerThanMs;
    private readonly SamplingOverrideOptions[] _slowInbound;
    private readonly Dictionary<string, int> _slowOutbound;

    public TraceRateLimiter? RateLimiter { get; }
    public bool KeepErrors { get; }
    public bool KeepBreaks { get; }
    public bool ForwardTraceResponse { get; }
    public KeepBudget? KeepBudget { get; }

    /// <summary>The slow-request threshold for a hop: the first matching route override (inbound) or the service's (outbound), else the default; null when off.</summary>
    public int? SlowerThanMs(HopFeature hop, string? path, string method)
    {
        if (hop.Listener == ListenerKind.Inbound)
        {
            foreach (var o in _slowInbound)
            {
                if ((o.Method is null || string.Equals(o.Method, method, StringComparison.OrdinalIgnoreCase))
                    && (o.Path is not null ? string.Equals(o.Path, path, StringComparison.Ordinal) : path?.StartsWith(o.PathPrefix!, StringComparison.Ordinal) == true))
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

    public bool Enabled { get; }
    public bool TrustForceTrace { get; }
    public int MaxPathTagLength { get; }
    public bool ResponseTraceHeader { get; }
    public TraceSampler Sampler { get; }
    public CustomTags CustomTags { get; }
    public TraceFormat Inject { get; }

    public bool IsExcluded(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return false;
        }

        foreach (var excluded in _excludePaths)
        {
            if (path.StartsWith(excluded, StringComparison.OrdinalIgnoreCase)
                && (path.Length == excluded.Length || path[excluded.Length] == '/' || excluded[^1] == '/'))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>The tracing policy of the configuration version in effect, shared by the start of a hop and its span's end.</summary>
internal sealed class LiveTracingPolicy
{
    private volatile TracingPolicy _current;

    public LiveTracingPolicy(LiveSettings live)
    {
        _current = new TracingPolicy(live.Current.Options.Tracing);
        live.Changed += settings => _current = new TracingPolicy(settings.Options.Tracing);
    }

    public TracingPolicy Current => _current;
}
