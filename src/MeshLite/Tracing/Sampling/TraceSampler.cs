using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;

namespace MeshLite.Tracing.Sampling;

/// <summary>
/// Istio's sampling, decided before any span exists so that an unsampled request costs no span at all:
/// forcing first (<c>x-client-trace-id</c>, and <c>x-envoy-force-trace</c> where trusted), then the caller's decision
/// (trace-context flag, else the reason packed in <c>x-request-id</c>), then a draw from the first 8 hex characters of
/// <c>x-request-id</c> modulo 10000 against the percentage on Envoy's 1/10000 grid — the same draw at every hop.
/// </summary>
public sealed class TraceSampler
{
    private const int Denominator = 10000;

    private readonly int _numerator;
    private readonly int _outboundNumerator;
    private readonly InboundOverride[] _inbound;
    private readonly Dictionary<string, int> _outbound;

    public TraceSampler(TracingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _numerator = ToNumerator(options.Sampling);
        _outboundNumerator = ToNumerator(options.OutboundSampling ?? options.Sampling);
        _inbound = options.Overrides
            .Where(o => o.Service is null && o.Percentage is not null)
            .Select(o => new InboundOverride(o, ToNumerator(o.Percentage ?? 0)))
            .ToArray();
        _outbound = options.Overrides
            .Where(o => o.Service is not null && o.Percentage is not null)
            .GroupBy(o => o.Service!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => ToNumerator(g.Last().Percentage ?? 0), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Percent to a numerator out of 10000, rounded as Envoy rounds (1% → 100, 0.01% → 1).</summary>
    public static int ToNumerator(double percent) => (int)Math.Round(Math.Clamp(percent, 0, 100) / 100 * Denominator, MidpointRounding.AwayFromZero);

    /// <summary>The numerator for an inbound request: the first matching route override, else the default.</summary>
    public int InboundNumerator(string path, string method, out bool overridden)
    {
        foreach (var o in _inbound)
        {
            if (o.Matches(path, method))
            {
                overridden = true;
                return o.Numerator;
            }
        }

        overridden = false;
        return _numerator;
    }

    /// <summary>The numerator for a call to <paramref name="service"/> (a registry name), or the outbound default.</summary>
    public int OutboundNumerator(string? service, out bool overridden)
    {
        if (service is not null && _outbound.Count > 0 && _outbound.TryGetValue(service, out var numerator))
        {
            overridden = true;
            return numerator;
        }

        overridden = false;
        return _outboundNumerator;
    }

    /// <param name="parent">The caller's decision from its trace-context header, if any.</param>
    /// <param name="requestIdReason">The reason packed in x-request-id (<see cref="RequestId.ReadReason"/>).</param>
    /// <param name="draw">0–9999, from x-request-id (or the trace id when x-request-id is not hex).</param>
    /// <param name="clientForced">x-client-trace-id is present.</param>
    /// <param name="serviceForced">x-envoy-force-trace is present and trusted on this listener.</param>
    /// <param name="numerator">The sampling percentage as a numerator out of 10000.</param>
    /// <param name="overridden">The numerator came from a route or service override.</param>
    public static SamplingDecision Decide(SamplingState parent, char requestIdReason, int draw, bool clientForced, bool serviceForced, int numerator, bool overridden)
    {
        if (clientForced)
        {
            return new(true, SamplingReason.ClientForced);
        }

        if (serviceForced)
        {
            return new(true, SamplingReason.ServiceForced);
        }

        switch (parent)
        {
            case SamplingState.Sampled or SamplingState.Debug:
                return new(true, SamplingReason.Parent);
            case SamplingState.NotSampled:
                return new(false, SamplingReason.Parent);
        }

        if (requestIdReason != RequestId.NotTraceable)
        {
            return new(true, SamplingReason.Parent);
        }

        var hit = draw < numerator;
        return new(hit, overridden ? SamplingReason.Override : hit ? SamplingReason.RandomHit : SamplingReason.Random);
    }

    private sealed record InboundOverride(SamplingOverrideOptions Override, int Numerator)
    {
        public bool Matches(string path, string method) => Override.MatchesInbound(path, method);
    }
}
