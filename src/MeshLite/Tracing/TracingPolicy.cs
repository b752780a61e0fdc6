using MeshLite.Configuration;
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
        ReportSpans = !tracing.DisableSpanReporting;
        UseRequestIdForSampling = tracing.UseRequestIdForTraceSampling;
        Sampler = new TraceSampler(tracing);
        CustomTags = new CustomTags(tracing.CustomTags, Environment.GetEnvironmentVariable);
        _excludePaths = [.. tracing.ExcludePaths ?? TracingOptions.DefaultExcludePaths];
        Inject = TraceFormats.FromNames(tracing.Propagation, TracingOptions.DefaultPropagation);
        RateLimiter = tracing.MaxTracesPerSecond is { } cap ? new TraceRateLimiter(cap) : null;
    }

    public bool Enabled { get; }
    public bool TrustForceTrace { get; }
    public int MaxPathTagLength { get; }
    public bool ResponseTraceHeader { get; }

    /// <summary>False under Istio's <c>disableSpanReporting</c>: decisions and headers as usual, no span started or kept.</summary>
    public bool ReportSpans { get; }

    public bool UseRequestIdForSampling { get; }
    public TraceSampler Sampler { get; }
    public CustomTags CustomTags { get; }
    public TraceFormat Inject { get; }

    /// <summary><c>Tracing:MaxTracesPerSecond</c>, or null when there is no cap.</summary>
    public TraceRateLimiter? RateLimiter { get; }

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
