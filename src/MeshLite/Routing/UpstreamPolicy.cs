using System.Globalization;
using MeshLite.Configuration;

namespace MeshLite.Routing;

/// <summary>
/// What Envoy's router does for one cluster beyond sending: the route timeout (across all tries, up to the response
/// headers) and the retry policy. Built once per configuration version; the forwarder's client for the cluster
/// applies it (the proxy's retry handler).
/// </summary>
internal sealed record UpstreamPolicy(int Retries, TimeSpan? PerTryTimeout, RetryConditions RetryOn, int[] RetriableStatusCodes, TimeSpan? Timeout)
{
    /// <summary>Cluster metadata key: a changed policy changes the cluster, so YARP builds the cluster a new client.</summary>
    public const string MetadataKey = "meshlite.upstream_policy";

    /// <summary>Envoy's retry back-off: fully jittered, exponential from 25 ms, at most 250 ms.</summary>
    public static readonly TimeSpan BackOffBase = TimeSpan.FromMilliseconds(25);

    public static readonly TimeSpan BackOffMax = TimeSpan.FromMilliseconds(250);

    /// <summary>One try, no timeout: what a VirtualService rule without retries (<c>attempts: 0</c>) or a timeout asks for.</summary>
    public static UpstreamPolicy None { get; } = new(0, null, RetryConditions.None, [], null);

    /// <summary>The policy for a service, or null when it has neither retries nor a timeout (the request is sent as is).</summary>
    public static UpstreamPolicy? From(RetryOptions? retries, TimeSpan? timeout)
    {
        var attempts = retries?.Attempts ?? 0;
        if (attempts == 0 && timeout is null)
        {
            return null;
        }

        var conditions = RetryConditions.None;
        int[] codes = [];
        if (attempts > 0 && !Configuration.RetryOn.TryParse(retries!.RetryOn, out conditions, out codes, out var error))
        {
            throw new ArgumentException(error, nameof(retries));
        }

        return new UpstreamPolicy(attempts, attempts > 0 ? retries!.PerTryTimeout : null, conditions, codes, timeout);
    }

    public string Fingerprint => string.Create(CultureInfo.InvariantCulture,
        $"retries={Retries};per_try={PerTryTimeout?.TotalMilliseconds};on={(int)RetryOn};codes={string.Join(',', RetriableStatusCodes)};timeout={Timeout?.TotalMilliseconds}");

    /// <summary>Whether a response status (and, for gRPC, its <c>grpc-status</c>) is one to retry.</summary>
    public bool ShouldRetry(int status, string? grpcStatus)
    {
        if ((RetryOn & RetryConditions.FiveXx) != 0 && status >= 500)
        {
            return true;
        }

        if ((RetryOn & RetryConditions.GatewayError) != 0 && status is 502 or 503 or 504)
        {
            return true;
        }

        if ((RetryOn & RetryConditions.Retriable4xx) != 0 && status == 409)
        {
            return true;
        }

        if ((RetryOn & RetryConditions.RetriableStatusCodes) != 0 && Array.IndexOf(RetriableStatusCodes, status) >= 0)
        {
            return true;
        }

        return grpcStatus switch
        {
            null => false,
            "1" => (RetryOn & RetryConditions.GrpcCancelled) != 0,
            "4" => (RetryOn & RetryConditions.GrpcDeadlineExceeded) != 0,
            "8" => (RetryOn & RetryConditions.GrpcResourceExhausted) != 0,
            "13" => (RetryOn & RetryConditions.GrpcInternal) != 0,
            "14" => (RetryOn & RetryConditions.GrpcUnavailable) != 0,
            _ => false,
        };
    }

    /// <summary>Whether a try that got no response is one to retry (Envoy's <c>wouldRetryFromReset</c>).</summary>
    public bool ShouldRetry(UpstreamFailure failure)
    {
        const RetryConditions anyReset = RetryConditions.FiveXx | RetryConditions.GatewayError | RetryConditions.Reset;
        return failure switch
        {
            UpstreamFailure.ConnectFailure => (RetryOn & (anyReset | RetryConditions.ConnectFailure | RetryConditions.ResetBeforeRequest)) != 0,
            UpstreamFailure.RefusedStream => (RetryOn & (anyReset | RetryConditions.RefusedStream)) != 0,
            UpstreamFailure.PerTryTimeout or UpstreamFailure.Reset => (RetryOn & anyReset) != 0,
            _ => false,
        };
    }
}

/// <summary>Why a try got no response.</summary>
internal enum UpstreamFailure
{
    ConnectFailure,
    RefusedStream,
    Reset,
    PerTryTimeout,
}
