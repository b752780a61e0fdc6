using System.Diagnostics;

namespace MeshLite.Tracing;

/// <summary>The one <see cref="ActivitySource"/> MeshLite creates spans from, and the tag names Envoy and Istio use.</summary>
internal static class MeshLiteTelemetry
{
    public const string SourceName = "MeshLite";

    public static readonly ActivitySource Source = new(SourceName, typeof(MeshLiteTelemetry).Assembly.GetName().Version?.ToString());

    public static class Tags
    {
        public const string NodeId = "node_id";
        public const string Zone = "zone";
        public const string RequestId = "guid:x-request-id";
        public const string ClientTraceId = "guid:x-client-trace-id";
        public const string HttpUrl = "http.url";
        public const string HttpMethod = "http.method";
        public const string HttpProtocol = "http.protocol";
        public const string UserAgent = "user_agent";
        public const string PeerAddress = "peer.address";
        public const string RequestSize = "request_size";
        public const string ResponseSize = "response_size";
        public const string Component = "component";
        public const string UpstreamCluster = "upstream_cluster";
        public const string UpstreamClusterName = "upstream_cluster.name";
        public const string HttpStatusCode = "http.status_code";
        public const string ResponseFlags = "response_flags";
        public const string DownstreamCluster = "downstream_cluster";
        public const string Error = "error";
        public const string GrpcPath = "grpc.path";
        public const string GrpcStatusCode = "grpc.status_code";
        public const string CanonicalService = "istio.canonical_service";
        public const string CanonicalRevision = "istio.canonical_revision";
        public const string MeshId = "istio.mesh_id";
        public const string Namespace = "istio.namespace";
        public const string ClusterId = "istio.cluster_id";
        public const string TraceContextFormat = "meshlite.trace_context.format";
        public const string SamplingReason = "meshlite.sampling.reason";
        public const string Propagation = "meshlite.propagation";
        public const string StitchConfidence = "meshlite.stitch.confidence";
        public const string Stitched = "meshlite.stitched";

        /// <summary>OpenTelemetry's <c>http.request.resend_count</c>: tries after the first.</summary>
        public const string ResendCount = "http.request.resend_count";

        /// <summary>Envoy's <c>%UPSTREAM_REQUEST_ATTEMPT_COUNT%</c>: every try, the first included.</summary>
        public const string UpstreamAttemptCount = "upstream_request_attempt_count";

        public const string RetryAttempt = "retry.attempt";
        public const string RetryReason = "retry.reason";
    }
}
