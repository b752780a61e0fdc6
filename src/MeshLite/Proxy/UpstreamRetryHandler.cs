using System.Globalization;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Routing;
using Prometheus;

namespace MeshLite.Proxy;

/// <summary>
/// Envoy's router for one cluster, under YARP's forwarder: sends each try with <c>x-envoy-attempt-count</c>, retries
/// what the policy names (after Envoy's jittered back-off, on another endpoint when there is one), bounds each try by
/// the per-try timeout and all of them by the route timeout, and marks <c>URX</c> when retries run out. A request
/// whose body has started to stream is never sent again: MeshLite does not buffer bodies for replay.
/// </summary>
internal sealed class UpstreamRetryHandler : DelegatingHandler
{
    /// <summary>The request's <see cref="HttpContext"/>, set by the request transform for clusters with a policy.</summary>
    public static readonly HttpRequestOptionsKey<HttpContext> ContextKey = new("meshlite.http_context");

    /// <summary>The cluster of the configuration version the request started on: its endpoints are the retry candidates.</summary>
    public static readonly HttpRequestOptionsKey<UpstreamCluster> ClusterKey = new("meshlite.cluster");

    /// <summary>The policy of the request's route: a VirtualService rule's, else the cluster's own.</summary>
    public static readonly HttpRequestOptionsKey<UpstreamPolicy> PolicyKey = new("meshlite.upstream_policy");

    public const string AttemptCountHeader = "x-envoy-attempt-count";

    private const long RefusedStreamErrorCode = 0x7;

    private static readonly string[] _attemptText = [.. Enumerable.Range(0, 16).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    private readonly UpstreamPolicy? _clusterPolicy;
    private readonly Counter.Child _retried;
    private readonly Counter.Child _retrySucceeded;
    private readonly Counter.Child _limitExceeded;
    private readonly Counter.Child _bodyAlreadySent;

    public UpstreamRetryHandler(HttpMessageHandler inner, UpstreamPolicy? clusterPolicy, UpstreamRetryMetrics metrics, string clusterName)
        : base(inner)
    {
        _clusterPolicy = clusterPolicy;
        _retried = metrics.Retried.WithLabels(clusterName);
        _retrySucceeded = metrics.RetrySucceeded.WithLabels(clusterName);
        _limitExceeded = metrics.LimitExceeded.WithLabels(clusterName);
        _bodyAlreadySent = metrics.NotReplayed.WithLabels(clusterName);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The request's rule's policy, else the cluster's; a cluster that has its handler for VirtualService rules alone
        // may have none, and then a call not routed by a rule gets one try, as before.
        var policy = request.Options.TryGetValue(PolicyKey, out var routePolicy) ? routePolicy : _clusterPolicy ?? UpstreamPolicy.None;
        request.Options.TryGetValue(ContextKey, out var context);
        request.Options.TryGetValue(ClusterKey, out var cluster);
        var hop = context?.Features.Get<HopFeature>();
        using var route = Deadline(policy.Timeout, cancellationToken);
        var routeToken = route?.Token ?? cancellationToken;
        List<UpstreamEndpoint>? tried = null;
        for (var attempt = 1; ; attempt++)
        {
            if (hop is not null)
            {
                hop.UpstreamAttempts = attempt;
            }

            request.Headers.Remove(AttemptCountHeader);
            request.Headers.TryAddWithoutValidation(AttemptCountHeader, attempt < _attemptText.Length ? _attemptText[attempt] : attempt.ToString(CultureInfo.InvariantCulture));

            using var perTry = Deadline(policy.PerTryTimeout, routeToken);
            HttpResponseMessage? response = null;
            var reason = string.Empty;
            try
            {
                response = await base.SendAsync(request, perTry?.Token ?? routeToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && route?.IsCancellationRequested != true)
            {
                // Only the per-try timer can have cancelled this try; the client's and the route's are excluded above.
                var failure = perTry?.IsCancellationRequested == true ? UpstreamFailure.PerTryTimeout : Classify(ex);
                if (!policy.ShouldRetry(failure) || !MaySendAgain(policy, attempt, hop))
                {
                    throw;
                }

                reason = Name(failure);
            }

            if (response is not null)
            {
                var status = (int)response.StatusCode;
                if (!policy.ShouldRetry(status, GrpcStatus(response)) || !MaySendAgain(policy, attempt, hop))
                {
                    if (attempt > 1 && status < 500)
                    {
                        _retrySucceeded.Inc();
                    }

                    return response;
                }

                reason = status.ToString(CultureInfo.InvariantCulture);
                response.Dispose();
            }

            _retried.Inc();
            if (hop is not null)
            {
                (hop.RetryReasons ??= []).Add(reason);
            }

            await Task.Delay(BackOff(attempt), routeToken);
            if (cluster is not null && hop is not null)
            {
                tried ??= [];
                NextEndpoint(cluster, hop, request, tried);
            }
        }
    }

    private static CancellationTokenSource? Deadline(TimeSpan? after, CancellationToken token)
    {
        if (after is not { } delay)
        {
            return null;
        }

        var source = CancellationTokenSource.CreateLinkedTokenSource(token);
        source.CancelAfter(delay);
        return source;
    }

    /// <summary>Whether another try is allowed: retries are left and no byte of the request body has been read yet.</summary>
    private bool MaySendAgain(UpstreamPolicy policy, int attempt, HopFeature? hop)
    {
        if (attempt > policy.Retries)
        {
            _limitExceeded.Inc();
            if (hop is not null)
            {
                hop.Flags |= ResponseFlags.UpstreamRetryLimitExceeded;
            }

            return false;
        }

        if (hop?.RequestBody?.ReadStarted == true)
        {
            _bodyAlreadySent.Inc();
            return false;
        }

        return true;
    }

    /// <summary>Envoy's fully jittered exponential back-off: the n-th retry waits 0 to min(25 ms × (2ⁿ − 1), 250 ms).</summary>
    internal static TimeSpan BackOff(int retry)
    {
        var ceiling = Math.Min(UpstreamPolicy.BackOffBase.TotalMilliseconds * ((1 << Math.Min(retry, 10)) - 1), UpstreamPolicy.BackOffMax.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    /// <summary>Envoy's previous-hosts predicate: the next try goes to an endpoint not tried yet, when the cluster has one.</summary>
    private static void NextEndpoint(UpstreamCluster cluster, HopFeature hop, HttpRequestMessage request, List<UpstreamEndpoint> tried)
    {
        if (request.RequestUri is null)
        {
            return;
        }

        var candidates = cluster.Endpoints;
        if (tried.Count == 0 && Array.Find(candidates, e => string.Equals(e.Authority, hop.UpstreamHost, StringComparison.Ordinal)) is { } first)
        {
            tried.Add(first);
        }

        UpstreamEndpoint? next = null;
        var start = candidates.Length > 1 ? Random.Shared.Next(candidates.Length) : 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var candidate = candidates[(start + i) % candidates.Length];
            if (!tried.Contains(candidate))
            {
                next = candidate;
                break;
            }
        }

        if (next is null || !Uri.TryCreate(next.Address, UriKind.Absolute, out var address))
        {
            return;
        }

        tried.Add(next);
        request.RequestUri = new UriBuilder(request.RequestUri) { Scheme = address.Scheme, Host = address.Host, Port = address.Port }.Uri;
        hop.UpstreamHost = next.Authority;
    }

    /// <summary>
    /// The retry condition a failed try meets: what the access log would call <c>UF</c> is a connect failure, as is the
    /// connect timeout (which surfaces as a cancellation); an HTTP/2 <c>REFUSED_STREAM</c> is its own; the rest are resets.
    /// </summary>
    internal static UpstreamFailure Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpProtocolException { ErrorCode: RefusedStreamErrorCode }:
                    return UpstreamFailure.RefusedStream;
                case TimeoutException:
                    return UpstreamFailure.ConnectFailure;
            }
        }

        return ForwarderOutcome.Reason(exception).Flag == ResponseFlags.UpstreamConnectionFailure
            ? UpstreamFailure.ConnectFailure
            : UpstreamFailure.Reset;
    }

    private static string Name(UpstreamFailure failure) => failure switch
    {
        UpstreamFailure.ConnectFailure => "connect-failure",
        UpstreamFailure.RefusedStream => "refused-stream",
        UpstreamFailure.PerTryTimeout => "per-try-timeout",
        _ => "reset",
    };

    /// <summary>A trailers-only gRPC reply carries its status in the headers, which is where Envoy's gRPC conditions look.</summary>
    private static string? GrpcStatus(HttpResponseMessage response) =>
        response.Headers.TryGetValues("grpc-status", out var values) ? values.FirstOrDefault() : null;
}

/// <summary>Envoy's retry statistics per cluster, under the names Istio's Prometheus endpoint gives them.</summary>
internal sealed class UpstreamRetryMetrics
{
    public UpstreamRetryMetrics(MeshLiteMetrics metrics)
    {
        string[] labels = ["cluster_name"];
        Retried = metrics.Factory.CreateCounter("envoy_cluster_upstream_rq_retry", "Tries sent again after a failed try.", labels);
        RetrySucceeded = metrics.Factory.CreateCounter("envoy_cluster_upstream_rq_retry_success", "Retried requests whose last try succeeded.", labels);
        LimitExceeded = metrics.Factory.CreateCounter("envoy_cluster_upstream_rq_retry_limit_exceeded",
            "Requests that would have been retried again but had no retries left (URX).", labels);
        NotReplayed = metrics.Factory.CreateCounter("meshlite_upstream_rq_retry_body_sent_total",
            "Requests that matched a retry condition but were not sent again because their body had started to stream.", labels);
    }

    public Counter Retried { get; }
    public Counter RetrySucceeded { get; }
    public Counter LimitExceeded { get; }
    public Counter NotReplayed { get; }
}
