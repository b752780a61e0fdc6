using System.Globalization;

namespace MeshLite.Configuration;

/// <summary>Envoy's <c>retry_on</c> conditions (router filter, <c>x-envoy-retry-on</c> and <c>x-envoy-retry-grpc-on</c>) that MeshLite applies.</summary>
[Flags]
public enum RetryConditions
{
    None = 0,

    /// <summary>The upstream answered 5xx, or not at all (connect failure, reset, per-try timeout).</summary>
    FiveXx = 1 << 0,

    /// <summary>The upstream answered 502, 503 or 504, or not at all.</summary>
    GatewayError = 1 << 1,

    /// <summary>No response: the connection failed, was reset or closed, or the try timed out.</summary>
    Reset = 1 << 2,

    /// <summary>The connection failed or broke before any of the request was sent.</summary>
    ResetBeforeRequest = 1 << 3,

    /// <summary>The connection could not be established (refused, unreachable, connect timeout).</summary>
    ConnectFailure = 1 << 4,

    /// <summary>The upstream answered 409.</summary>
    Retriable4xx = 1 << 5,

    /// <summary>An HTTP/2 upstream refused the stream (<c>REFUSED_STREAM</c>).</summary>
    RefusedStream = 1 << 6,

    /// <summary>The status is one of the listed codes.</summary>
    RetriableStatusCodes = 1 << 7,

    GrpcCancelled = 1 << 8,
    GrpcDeadlineExceeded = 1 << 9,
    GrpcInternal = 1 << 10,
    GrpcResourceExhausted = 1 << 11,
    GrpcUnavailable = 1 << 12,
}

/// <summary>
/// Parses Istio's <c>retryOn</c>: Envoy condition names and HTTP status codes, comma-separated. As Istio's validator
/// does, items are not trimmed (<c>"5xx, reset"</c> is refused) and a status code adds <c>retriable-status-codes</c>.
/// </summary>
public static class RetryOn
{
    /// <summary>Istio's built-in policy (<c>pilot/pkg/networking/core/route/retry/retry.go</c>); it lists no status code.</summary>
    public const string IstioDefault = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

    private static readonly (string Name, RetryConditions Condition)[] _names =
    [
        ("5xx", RetryConditions.FiveXx),
        ("gateway-error", RetryConditions.GatewayError),
        ("reset", RetryConditions.Reset),
        ("reset-before-request", RetryConditions.ResetBeforeRequest),
        ("connect-failure", RetryConditions.ConnectFailure),
        ("retriable-4xx", RetryConditions.Retriable4xx),
        ("refused-stream", RetryConditions.RefusedStream),
        ("retriable-status-codes", RetryConditions.RetriableStatusCodes),
        ("cancelled", RetryConditions.GrpcCancelled),
        ("deadline-exceeded", RetryConditions.GrpcDeadlineExceeded),
        ("internal", RetryConditions.GrpcInternal),
        ("resource-exhausted", RetryConditions.GrpcResourceExhausted),
        ("unavailable", RetryConditions.GrpcUnavailable),
    ];

    public static string KnownNames => string.Join(", ", _names.Select(n => n.Name));

    /// <summary>Parses a <c>retryOn</c> value (null or empty: Istio's default); on failure <paramref name="error"/> names the bad item.</summary>
    public static bool TryParse(string? value, out RetryConditions conditions, out int[] statusCodes, out string? error)
    {
        conditions = RetryConditions.None;
        statusCodes = [];
        error = null;
        if (string.IsNullOrEmpty(value))
        {
            value = IstioDefault;
        }

        var codes = new List<int>();
        foreach (var item in value.Split(','))
        {
            if (int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            {
                if (code is < 100 or > 599)
                {
                    error = $"'{item}' is not an HTTP status code";
                    return false;
                }

                codes.Add(code);
                conditions |= RetryConditions.RetriableStatusCodes;
                continue;
            }

            var known = Array.FindIndex(_names, n => string.Equals(n.Name, item, StringComparison.Ordinal));
            if (known < 0)
            {
                error = $"'{item}' is not a retryOn condition ({KnownNames}, or a status code; no spaces)";
                return false;
            }

            conditions |= _names[known].Condition;
        }

        statusCodes = [.. codes.Distinct().Order()];
        return true;
    }
}
