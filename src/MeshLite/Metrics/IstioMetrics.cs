using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Peers;
using Prometheus;

namespace MeshLite.Metrics;

/// <summary>
/// Istio's standard HTTP metrics (<c>istio_requests_total</c>, <c>istio_request_duration_milliseconds</c>,
/// <c>istio_request_bytes</c>, <c>istio_response_bytes</c>) with Istio's labels in Istio's order and Envoy's default
/// buckets, recorded for each finished hop. Each distinct label set is resolved once and cached, so a steady request
/// costs one dictionary lookup.
/// </summary>
internal sealed class IstioMetrics : IHopObserver
{
    /// <summary>Envoy's default histogram buckets, used by Istio for milliseconds and bytes alike.</summary>
    public static readonly double[] EnvoyBuckets = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    public static readonly string[] LabelNames =
    [
        "reporter", "source_workload", "source_canonical_service", "source_canonical_revision", "source_workload_namespace",
        "source_principal", "source_app", "source_version", "source_cluster", "destination_workload", "destination_workload_namespace",
        "destination_principal", "destination_app", "destination_version", "destination_service", "destination_canonical_service",
        "destination_canonical_revision", "destination_service_name", "destination_service_namespace", "destination_cluster",
        "request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
    ];

    private const int MaxSeries = 20_000;
    private const int MaxPassthroughHosts = 256;

    private readonly Counter _requests;
    private readonly Histogram _duration;
    private readonly Histogram _requestBytes;
    private readonly Histogram _responseBytes;
    private readonly PeerMetadata _local;
    private readonly MeshLiteSettings _settings;
    private readonly ConcurrentDictionary<SeriesKey, Series> _series = new();
    private readonly ConcurrentDictionary<string, string> _passthroughHosts = new(StringComparer.OrdinalIgnoreCase);

    public IstioMetrics(MeshLiteMetrics metrics, MeshLiteSettings settings)
    {
        _settings = settings;
        _local = MetadataExchange.Local(settings);
        var factory = metrics.Factory;
        _requests = factory.CreateCounter("istio_requests_total", "Requests handled by the sidecar.", LabelNames);
        _duration = factory.CreateHistogram("istio_request_duration_milliseconds", "Request duration in milliseconds.",
            LabelNames, new HistogramConfiguration { Buckets = EnvoyBuckets });
        _requestBytes = factory.CreateHistogram("istio_request_bytes", "Request size in bytes, headers included.",
            LabelNames, new HistogramConfiguration { Buckets = EnvoyBuckets });
        _responseBytes = factory.CreateHistogram("istio_response_bytes", "Response size in bytes, headers included.",
            LabelNames, new HistogramConfiguration { Buckets = EnvoyBuckets });
    }

    public PeerMetadata Local => _local;

    public string Stage => "metrics";

    public bool WantsStartTime => false;

    public void OnHopCompleted(HopFeature hop, HttpContext context)
    {
        var request = context.Request;
        Record(hop, request.Host.Value, hop.StatusCode, hop.GrpcStatus ?? string.Empty, hop.Duration.TotalMilliseconds,
            WireBytes.Request(request) + hop.BytesReceived, WireBytes.Response(context.Response) + hop.BytesSent);
    }

    public void Record(HopFeature hop, string? host, int statusCode, string grpcStatus, double durationMs, long requestBytes, long responseBytes)
    {
        var destinationHost = hop.Route.Kind is MeshRouteKind.Passthrough or MeshRouteKind.BlackHole ? BoundedHost(host) : null;
        var key = new SeriesKey(hop.Listener, hop.Peer, hop.Route, destinationHost, statusCode, grpcStatus, hop.Flags, hop.IsGrpc);
        if (!_series.TryGetValue(key, out var series))
        {
            series = Create(key);
            if (_series.Count < MaxSeries)
            {
                _series.TryAdd(key, series);
            }
        }

        series.Requests.Inc();
        series.Duration.Observe(Math.Floor(durationMs));
        series.RequestBytes.Observe(requestBytes);
        series.ResponseBytes.Observe(responseBytes);
    }

    private Series Create(SeriesKey key)
    {
        var outbound = key.Listener == ListenerKind.Outbound;
        var source = outbound ? _local : key.Peer;
        var destination = outbound ? key.Peer : _local;
        var route = key.Route;
        var (service, serviceName, serviceNamespace) = route.Kind switch
        {
            MeshRouteKind.Inbound => (_settings.ServiceFqdn, _settings.ServiceName, _settings.Namespace),
            MeshRouteKind.Registry => (route.ServiceHost!, route.ServiceName!, route.ServiceNamespace!),
            MeshRouteKind.Passthrough => (key.DestinationHost ?? "unknown", MeshRoute.PassthroughCluster, "unknown"),
            MeshRouteKind.BlackHole => (key.DestinationHost ?? "unknown", MeshRoute.BlackHoleCluster, "unknown"),
            _ => ("unknown", "unknown", "unknown"),
        };

        string[] labels =
        [
            outbound ? "source" : "destination",
            source.Workload, source.CanonicalService, source.CanonicalRevision, source.Namespace, PeerMetadata.Principal, source.App, source.Version, source.ClusterId,
            destination.Workload, destination.Namespace, PeerMetadata.Principal, destination.App, destination.Version,
            service, destination.CanonicalService, destination.CanonicalRevision, serviceName, serviceNamespace, destination.ClusterId,
            key.Grpc ? "grpc" : "http",
            key.StatusCode.ToString(CultureInfo.InvariantCulture),
            key.GrpcStatus,
            ResponseFlagNames.Format(key.Flags),
            outbound ? "unknown" : "none",
        ];
        return new Series(_requests.WithLabels(labels), _duration.WithLabels(labels), _requestBytes.WithLabels(labels), _responseBytes.WithLabels(labels));
    }

    /// <summary>Passthrough traffic is labelled with its Host, as Istio does, for the first hosts seen; after that, <c>unknown</c>.</summary>
    private string? BoundedHost(string? host)
    {
        if (string.IsNullOrEmpty(host))
        {
            return null;
        }

        if (_passthroughHosts.TryGetValue(host, out var known))
        {
            return known;
        }

        return _passthroughHosts.Count < MaxPassthroughHosts ? _passthroughHosts.GetOrAdd(host, host) : "unknown";
    }

    /// <summary>Routes and peers are shared instances, so they are compared by reference: hashing a key costs no string hashing.</summary>
    private readonly record struct SeriesKey(
        ListenerKind Listener, PeerMetadata Peer, MeshRoute Route, string? DestinationHost, int StatusCode, string GrpcStatus, ResponseFlags Flags, bool Grpc)
    {
        public bool Equals(SeriesKey other) =>
            Listener == other.Listener && ReferenceEquals(Peer, other.Peer) && ReferenceEquals(Route, other.Route)
            && ReferenceEquals(DestinationHost, other.DestinationHost) && StatusCode == other.StatusCode
            && string.Equals(GrpcStatus, other.GrpcStatus, StringComparison.Ordinal) && Flags == other.Flags && Grpc == other.Grpc;

        public override int GetHashCode() => HashCode.Combine(Listener, RuntimeHelpers.GetHashCode(Peer), RuntimeHelpers.GetHashCode(Route),
            DestinationHost is null ? 0 : RuntimeHelpers.GetHashCode(DestinationHost), StatusCode, Flags, Grpc);
    }

    private sealed record Series(Counter.Child Requests, Histogram.Child Duration, Histogram.Child RequestBytes, Histogram.Child ResponseBytes);
}
