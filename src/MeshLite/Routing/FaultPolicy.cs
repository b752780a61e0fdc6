using MeshLite.Configuration;

namespace MeshLite.Routing;

/// <summary>
/// Istio's fault injection as Envoy's fault filter applies it: a delay for a share of requests (<c>DI</c>), then an
/// abort for a share (<c>FI</c>), each drawn on its own. Built once per configuration version.
/// </summary>
internal sealed record FaultPolicy(double DelayPercentage, TimeSpan Delay, double AbortPercentage, int HttpStatus, int? GrpcStatus)
{
    /// <summary>The policy, or null when neither the delay nor the abort can fire (an absent percentage is 0 %: it never fires).</summary>
    public static FaultPolicy? From(FaultOptions? fault) =>
        fault is null || (fault.Delay.Percentage <= 0 && fault.Abort.Percentage <= 0)
            ? null
            : new FaultPolicy(fault.Delay.Percentage, TimeSpan.FromMilliseconds(fault.Delay.FixedDelayMs), fault.Abort.Percentage, fault.Abort.HttpStatus, fault.Abort.GrpcStatus);

    public bool DelayFires() => DelayPercentage > 0 && Random.Shared.NextDouble() * 100 < DelayPercentage;

    public bool AbortFires() => AbortPercentage > 0 && Random.Shared.NextDouble() * 100 < AbortPercentage;
}
