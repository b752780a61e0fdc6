using System.Text;

namespace MeshLite.Hops;

/// <summary>Envoy's response flags (<c>%RESPONSE_FLAGS%</c>) that MeshLite can raise, in Envoy's order.</summary>
[Flags]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "Envoy's name for them.")]
public enum ResponseFlags : ushort
{
    None = 0,
    FailedLocalHealthCheck = 1 << 0,
    NoHealthyUpstream = 1 << 1,
    UpstreamRequestTimeout = 1 << 2,
    LocalReset = 1 << 3,
    UpstreamRemoteReset = 1 << 4,
    UpstreamConnectionFailure = 1 << 5,
    UpstreamConnectionTermination = 1 << 6,
    UpstreamOverflow = 1 << 7,
    NoRouteFound = 1 << 8,
    DelayInjected = 1 << 9,
    FaultInjected = 1 << 10,
    DownstreamConnectionTermination = 1 << 11,
    UpstreamProtocolError = 1 << 12,
    UpstreamRetryLimitExceeded = 1 << 13,
}

public static class ResponseFlagNames
{
    private static readonly (ResponseFlags Flag, string Name)[] _names =
    [
        (ResponseFlags.FailedLocalHealthCheck, "LH"),
        (ResponseFlags.NoHealthyUpstream, "UH"),
        (ResponseFlags.UpstreamRequestTimeout, "UT"),
        (ResponseFlags.LocalReset, "LR"),
        (ResponseFlags.UpstreamRemoteReset, "UR"),
        (ResponseFlags.UpstreamConnectionFailure, "UF"),
        (ResponseFlags.UpstreamConnectionTermination, "UC"),
        (ResponseFlags.UpstreamOverflow, "UO"),
        (ResponseFlags.NoRouteFound, "NR"),
        (ResponseFlags.DelayInjected, "DI"),
        (ResponseFlags.FaultInjected, "FI"),
        (ResponseFlags.DownstreamConnectionTermination, "DC"),
        (ResponseFlags.UpstreamRetryLimitExceeded, "URX"),
        (ResponseFlags.UpstreamProtocolError, "UPE"),
    ];

    /// <summary>Short names joined with ',' as Envoy writes them, or <c>-</c>. Single flags cost no allocation.</summary>
    public static string Format(ResponseFlags flags)
    {
        if (flags == ResponseFlags.None)
        {
            return "-";
        }

        string? single = null;
        StringBuilder? builder = null;
        foreach (var (flag, name) in _names)
        {
            if ((flags & flag) == 0)
            {
                continue;
            }

            if (single is null)
            {
                single = name;
            }
            else
            {
                builder ??= new StringBuilder(single);
                builder.Append(',').Append(name);
            }
        }

        return builder?.ToString() ?? single ?? "-";
    }
}
