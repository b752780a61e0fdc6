namespace MeshLite.Configuration;

/// <summary>The <c>MeshLite</c> configuration section, as bound. <see cref="MeshLiteOptionsValidator"/> checks it at start-up and on every reload.</summary>
public sealed class MeshLiteOptions
{
    public const string SectionName = "MeshLite";

    public string? ServiceName { get; set; }
    public string Namespace { get; set; } = "default";
    public string? PodName { get; set; }
    public string? PodIp { get; set; }

    /// <summary>The port the service is known by in the mesh; names inbound spans (<c>svc.ns.svc.cluster.local:80/*</c>).</summary>
    public int ServicePort { get; set; } = 80;

    public string? Zone { get; set; }
    public string ClusterId { get; set; } = "Kubernetes";

    /// <summary>The cluster's DNS domain, as Istio's <c>global.proxy.clusterDomain</c>: names are <c>svc.ns.svc.&lt;domain&gt;</c>.</summary>
    public string ClusterDomain { get; set; } = "cluster.local";
    public string MeshId { get; set; } = "cluster.local";
    public string CanonicalRevision { get; set; } = "latest";

    /// <summary>The workload (Deployment) name for metric labels; default: the service name.</summary>
    public string? Workload { get; set; }

    /// <summary>The <c>app</c> label; default: the service name.</summary>
    public string? App { get; set; }

    /// <summary>The <c>version</c> label; default <c>unknown</c>.</summary>
    public string? Version { get; set; }

    public MetricsOptions Metrics { get; set; } = new();
    public AccessLogOptions AccessLog { get; set; } = new();

    /// <summary><c>ALLOW_ANY</c> (unknown hosts go to <c>PassthroughCluster</c>) or <c>REGISTRY_ONLY</c> (502 from <c>BlackHoleCluster</c>).</summary>
    public string OutboundTrafficPolicy { get; set; } = OutboundTrafficPolicies.AllowAny;

    public InboundListenerOptions Inbound { get; set; } = new();
    public ListenerOptions Outbound { get; set; } = new() { Port = 15001, BindAddress = "127.0.0.1" };
    public ListenerOptions Admin { get; set; } = new() { Port = 15000, BindAddress = "127.0.0.1" };
    public DemoAppOptions DemoApp { get; set; } = new();
    public FaultOptions Fault { get; set; } = new();
    public LimitsOptions Limits { get; set; } = new();

    public Dictionary<string, ServiceOptions> Services { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public TracingOptions Tracing { get; set; } = new();

    public IstioOptions Istio { get; set; } = new();

    /// <summary>
    /// The app's own kubelet probes, which <c>meshlite inject</c> rewrote to <c>/app-health/&lt;container&gt;/readyz|livez|startupz</c>
    /// on the metrics port (as Istio's agent serves them on 15020): a JSON object from that path to the original probe,
    /// like Istio's <c>ISTIO_KUBE_APP_PROBERS</c>. The kubelet cannot reach an app bound to 127.0.0.1; MeshLite can.
    /// </summary>
    public string? AppProbes { get; set; }

    /// <summary>
    /// Istio's <c>terminationDrainDuration</c>: after SIGTERM (or <c>POST /drain_listeners</c>) readiness is 503 and the
    /// listeners keep serving this long, closing each HTTP/1 connection after its response, before they stop.
    /// </summary>
    public TimeSpan TerminationDrainDuration { get; set; } = DefaultTerminationDrainDuration;

    public static readonly TimeSpan DefaultTerminationDrainDuration = TimeSpan.FromSeconds(5);
}

/// <summary>Istio's own resources as input (<c>--istio</c>): Telemetry, VirtualService, ServiceEntry, Sidecar and mesh config.</summary>
public sealed class IstioOptions
{
    /// <summary>A YAML file or a folder of them (multi-document); re-read when a file in it changes.</summary>
    public string? Path { get; set; }

    /// <summary>Istio's <c>meshConfig.rootNamespace</c>: where mesh-wide Telemetry and Sidecar resources live.</summary>
    public string RootNamespace { get; set; } = "istio-system";

    /// <summary>The pod's labels matched by selectors, beyond <c>app</c> and <c>version</c> (which come from <c>MeshLite:App</c> and <c>MeshLite:Version</c>).</summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
}

public sealed class MetricsOptions
{
    /// <summary>Port for <c>/stats/prometheus</c> on all interfaces (Envoy's 15090); 0 picks a free one.</summary>
    public int Port { get; set; } = 15090;

    public string BindAddress { get; set; } = "0.0.0.0";
}

public sealed class AccessLogOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Where lines go, as Istio's <c>meshConfig.accessLogFile</c>: <c>/dev/stdout</c> (the default) or a file, appended to.</summary>
    public string Path { get; set; } = StandardOutput;

    public const string StandardOutput = "/dev/stdout";

    /// <summary><c>TEXT</c> (Istio's default format) or <c>JSON</c>.</summary>
    public string Encoding { get; set; } = "TEXT";

    /// <summary>
    /// Istio's <c>meshConfig.accessLogFormat</c>: an Envoy format string (<c>%RESPONSE_CODE% %REQ(X-TENANT)%</c>) for
    /// TEXT, a JSON object of field names to format strings for JSON. Unset: Istio's default format.
    /// </summary>
    public string? Format { get; set; }

    /// <summary>Lines buffered between requests and the writer; beyond it lines are dropped and counted, never waited for.</summary>
    public int BufferSize { get; set; } = 8192;

    /// <summary>
    /// How long lines may wait before they are written, as Envoy's <c>file_flush_interval</c> (1 s): the writer wakes
    /// once per interval, or sooner when lines pile up, never once per line.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// What a caller may send on the proxy listeners. Headers past a limit are answered 431 by the listener itself; a body
/// past its limit is answered 413 (<c>request_payload_too_large</c>) before or while it streams.
/// </summary>
public sealed class LimitsOptions
{
    /// <summary>All request headers together, in bytes (Envoy's <c>max_request_headers_kb</c> is 60 KiB).</summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 60 * 1024;

    /// <summary>How many request headers (Envoy's <c>max_headers_count</c> is 100).</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>Request body bytes; unset means no limit, as in Envoy, where bodies stream through.</summary>
    public long? MaxRequestBodySize { get; set; }
}

public static class OutboundTrafficPolicies
{
    public const string AllowAny = "ALLOW_ANY";
    public const string RegistryOnly = "REGISTRY_ONLY";
}

public class ListenerOptions
{
    public int Port { get; set; }
    public string BindAddress { get; set; } = "0.0.0.0";
}

public sealed class InboundListenerOptions : ListenerOptions
{
    public InboundListenerOptions()
    {
        Port = 15006;
    }

    /// <summary>The local app's port on 127.0.0.1.</summary>
    public int? AppPort { get; set; }

    /// <summary><c>auto</c> (the protocol the request arrived in), <c>http</c> (HTTP/1.1) or <c>http2</c> (cleartext HTTP/2, as gRPC needs).</summary>
    public string AppProtocol { get; set; } = UpstreamProtocols.Auto;

    /// <summary>As <see cref="ServiceOptions.Timeout"/>, toward the local app; unset means no timeout, as on Istio's inbound routes.</summary>
    public TimeSpan? Timeout { get; set; }
}

/// <summary>
/// A demo app MeshLite serves beside itself on 127.0.0.1 (the quick start and the local mesh): it waits, fails, calls
/// other services through this sidecar's outbound listener — forwarding the trace headers or not — and answers.
/// </summary>
public sealed class DemoAppOptions
{
    public int? Port { get; set; }

    public int LatencyMs { get; set; }

    /// <summary>A random extra delay of 0 to this many milliseconds.</summary>
    public int LatencyJitterMs { get; set; }

    /// <summary>The share of requests (0–1) answered with <see cref="ErrorStatus"/>.</summary>
    public double ErrorRate { get; set; }

    public int ErrorStatus { get; set; } = 503;

    /// <summary>A fixed response body of this many bytes; by default the app echoes what it received as JSON.</summary>
    public int? ResponseBytes { get; set; }

    /// <summary>Services called, through the sidecar, for every request.</summary>
    public List<string> Calls { get; set; } = [];

    public bool Parallel { get; set; }

    /// <summary>Whether the calls carry the incoming trace headers (false: the app "forgets", as real apps do).</summary>
    public bool ForwardHeaders { get; set; } = true;
}

/// <summary>
/// Istio's fault injection: a delay (<c>DI</c>) and an abort (<c>FI</c>), each for a share of requests. <c>MeshLite:Fault</c>
/// applies to the inbound route; a VirtualService rule's (<see cref="HttpRouteOptions.Fault"/>) to the calls this sidecar makes.
/// </summary>
public sealed class FaultOptions
{
    public FaultDelayOptions Delay { get; set; } = new();
    public FaultAbortOptions Abort { get; set; } = new();
}

public sealed class FaultDelayOptions
{
    public double Percentage { get; set; }
    public int FixedDelayMs { get; set; }
}

public sealed class FaultAbortOptions
{
    public double Percentage { get; set; }
    public int HttpStatus { get; set; } = 503;

    /// <summary>A gRPC status code (0–16) to answer instead of <see cref="HttpStatus"/>: HTTP 200 with <c>grpc-status</c>, trailers only.</summary>
    public int? GrpcStatus { get; set; }
}

public sealed class ServiceOptions
{
    public string Namespace { get; set; } = "default";

    /// <summary>The service port (as in <c>outbound|8080||payment.default.svc.cluster.local</c>).</summary>
    public int Port { get; set; } = 80;

    /// <summary>Base addresses of the service's sidecar inbound listeners, e.g. <c>http://127.0.0.1:25006</c>.</summary>
    public List<string> Endpoints { get; set; } = [];

    public string Protocol { get; set; } = UpstreamProtocols.Auto;

    /// <summary>
    /// Istio's route <c>timeout</c>: the upstream's response headers must arrive within it, across all retries, and while
    /// the body streams a silence this long ends it (504 <c>UT</c>). Unset means no timeout, as in Istio.
    /// </summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Istio's <c>HTTPRetry</c>; unset means no retries. An empty object means Istio's built-in policy.</summary>
    public RetryOptions? Retries { get; set; }

    /// <summary>
    /// Istio's VirtualService <c>http</c> rules for calls to this service, in order: the first that matches chooses the
    /// destination, timeout, retries and faults (applied here, on the caller's side); when none matches the call is
    /// answered 404 <c>NR</c>. Empty: every call goes to this service with its own timeout and retries.
    /// </summary>
    public List<HttpRouteOptions> Routes { get; set; } = [];
}

/// <summary>One VirtualService <c>http</c> rule.</summary>
public sealed class HttpRouteOptions
{
    /// <summary>Envoy's <c>%ROUTE_NAME%</c>; default <c>default</c>.</summary>
    public string? Name { get; set; }

    /// <summary>Alternatives (any may match); within one, every condition must hold. Empty: every request.</summary>
    public List<HttpMatchOptions> Match { get; set; } = [];

    /// <summary>Registry services, weighted; empty: the service the rule belongs to.</summary>
    public List<RouteDestinationOptions> Destinations { get; set; } = [];

    /// <summary>As <see cref="ServiceOptions.Timeout"/>, for this rule; unset means no timeout, as in Istio.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>As <see cref="ServiceOptions.Retries"/>, for this rule.</summary>
    public RetryOptions? Retries { get; set; }

    /// <summary>Istio's <c>fault</c>, injected by this (the calling) sidecar: <c>DI</c> and <c>FI</c>.</summary>
    public FaultOptions? Fault { get; set; }

    /// <summary>Istio's <c>rewrite</c>: the path and the Host the destination sees.</summary>
    public RewriteOptions? Rewrite { get; set; }

    /// <summary>Istio's <c>headers</c>: what this sidecar removes, sets and adds on the way to the destination and back.</summary>
    public RouteHeadersOptions? Headers { get; set; }
}

public sealed class RewriteOptions
{
    /// <summary>Replaces the matched <c>Uri:Prefix</c>, or the whole path when the rule matched otherwise.</summary>
    public string? Uri { get; set; }

    /// <summary>The Host (<c>:authority</c>) the destination sees.</summary>
    public string? Authority { get; set; }
}

public sealed class RouteHeadersOptions
{
    public HeaderOperationsOptions? Request { get; set; }
    public HeaderOperationsOptions? Response { get; set; }
}

/// <summary>Applied in Envoy's order: removed, then set (replacing), then added (beside any value already there).</summary>
public sealed class HeaderOperationsOptions
{
    public Dictionary<string, string> Set { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, string> Add { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public List<string> Remove { get; set; } = [];
}

public sealed class HttpMatchOptions
{
    public StringMatchOptions? Uri { get; set; }
    public string? Method { get; set; }

    /// <summary>By lowercase header name; a condition with no value tests presence.</summary>
    public Dictionary<string, StringMatchOptions> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Istio's <c>StringMatch</c>: one of exact, prefix (a plain string prefix) or regex (anchored, RE2 syntax); none set tests presence.</summary>
public sealed class StringMatchOptions
{
    public string? Exact { get; set; }
    public string? Prefix { get; set; }
    public string? Regex { get; set; }

    /// <summary>Set when the condition only asks that the header be present (Istio's <c>name: {}</c>).</summary>
    public bool Present { get; set; }
}

public sealed class RouteDestinationOptions
{
    public string? Service { get; set; }

    /// <summary>The share is weight / the sum of the rule's weights.</summary>
    public int Weight { get; set; } = 1;
}

/// <summary>Istio's <c>HTTPRetry</c>, applied by the calling sidecar as Envoy's router applies its retry policy.</summary>
public sealed class RetryOptions
{
    /// <summary>Retries after the first try (Istio's <c>attempts</c>; its built-in default is 2). 0 turns retries off.</summary>
    public int Attempts { get; set; } = DefaultAttempts;

    /// <summary>How long each try may wait for response headers; unset means only <see cref="ServiceOptions.Timeout"/> bounds it.</summary>
    public TimeSpan? PerTryTimeout { get; set; }

    /// <summary>Envoy's conditions and HTTP status codes, comma-separated; empty means Istio's default list.</summary>
    public string? RetryOn { get; set; }

    public const int DefaultAttempts = 2;
}

public static class UpstreamProtocols
{
    public const string Auto = "auto";
    public const string Http = "http";
    public const string Http2 = "http2";

    public static bool IsKnown(string? value) =>
        string.Equals(value, Auto, StringComparison.OrdinalIgnoreCase)
        || string.Equals(value, Http, StringComparison.OrdinalIgnoreCase)
        || string.Equals(value, Http2, StringComparison.OrdinalIgnoreCase)
        || string.Equals(value, "grpc", StringComparison.OrdinalIgnoreCase);
}

public sealed class TracingOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Random sampling percentage, 0–100 in steps of 0.01 (Istio's default is 1).</summary>
    public double Sampling { get; set; } = 1.0;

    /// <summary>
    /// The percentage for new traces started on the outbound listener (an app's call without trace context), as a
    /// Telemetry's <c>match.mode: CLIENT</c> sets it; unset: <see cref="Sampling"/>. Per-service overrides still win.
    /// </summary>
    public double? OutboundSampling { get; set; }

    /// <summary>Formats written toward the next hop: <c>w3c</c>, <c>b3multi</c>, <c>b3</c>. Default: w3c and b3multi.</summary>
    public List<string>? Propagation { get; set; }

    public bool TrustForceTraceFromMesh { get; set; }

    /// <summary>Istio's <c>disableSpanReporting</c>: sampling and propagation go on, but no span is exported.</summary>
    public bool DisableSpanReporting { get; set; }

    /// <summary>
    /// Istio's <c>useRequestIdForTraceSampling</c> (on): the random draw comes from <c>x-request-id</c>, so every hop of a
    /// request draws the same; off, it comes from the trace id.
    /// </summary>
    public bool UseRequestIdForTraceSampling { get; set; } = true;

    /// <summary>
    /// What to do with an outbound call that broke the trace: <c>off</c> (count, tag, report), <c>link</c> (also link the
    /// CLIENT span to the inbound SERVER span that caused it) or <c>parent</c> (when that is certain, continue its trace).
    /// </summary>
    public string Stitch { get; set; } = "off";

    /// <summary>When true, responses carry <c>x-trace-id</c> so a client can report the trace it belongs to.</summary>
    public bool ResponseTraceHeader { get; set; }
    public int MaxPathTagLength { get; set; } = 256;

    /// <summary>Inbound paths never traced. Default: /healthz, /health, /ready, /metrics, /stats/prometheus.</summary>
    public List<string>? ExcludePaths { get; set; }

    public List<SamplingOverrideOptions> Overrides { get; set; } = [];

    /// <summary>What a hop that was not sampled exports anyway when it ends (errors, slow requests, broken propagation).</summary>
    public KeepOptions Keep { get; set; } = new();

    /// <summary>
    /// A cap on the new traces this sidecar starts by its own random draw, per second (a token bucket); decisions it
    /// refuses are counted as <c>rate_limited</c>. Traces sampled by the caller or forced are never refused. Unset: no cap.
    /// </summary>
    public double? MaxTracesPerSecond { get; set; }

    public Dictionary<string, CustomTagOptions> CustomTags { get; set; } = new(StringComparer.Ordinal);
    public OtlpOptions Otlp { get; set; } = new();

    public const int DebugSpanCapacityWithoutExport = 2048;
    public const int DebugSpanCapacityWhenExporting = 128;

    /// <summary>
    /// How many finished spans <c>/debug/traces</c> keeps: by default 2048 when it is the only place spans go, 128 when
    /// they are exported over OTLP.
    /// </summary>
    public int? DebugSpanCapacity { get; set; }

    public static readonly IReadOnlyList<string> DefaultPropagation = ["w3c", "b3multi"];
    public static readonly IReadOnlyList<string> DefaultExcludePaths = ["/healthz", "/health", "/ready", "/metrics", "/stats/prometheus"];
}

/// <summary>
/// Deferred keep: a hop that was not sampled still carries real ids downstream; when it ends, one that matches a rule
/// exports its span with exactly those ids (tagged <c>meshlite.sampling.reason=kept_*</c>), and so does every MeshLite
/// hop on its path back to the root.
/// </summary>
public sealed class KeepOptions
{
    /// <summary>5xx, no response, gRPC server errors, any response flag. On by default.</summary>
    public bool Errors { get; set; } = true;

    /// <summary>Keep hops slower than this (ms); per route or service in <c>Tracing:Overrides</c>. Unset: off.</summary>
    public int? SlowerThanMs { get; set; }

    /// <summary>Keep outbound calls on which the app lost the trace (the break detector's <c>missing</c> or <c>mismatch</c>). On by default.</summary>
    public bool Breaks { get; set; } = true;

    /// <summary>
    /// Kept traces per second before an error storm is thinned: the keep probability is lowered and compared against
    /// the trace id, so every sidecar under the same storm keeps the same traces. Unset: no budget.
    /// </summary>
    public double? MaxTracesPerSecond { get; set; }

    /// <summary>Let the app see the <c>traceresponse</c> header of mesh responses (removed by default, as MeshLite consumes it).</summary>
    public bool ForwardTraceResponse { get; set; }
}

public sealed class SamplingOverrideOptions
{
    /// <summary>Inbound: requests whose path starts with this.</summary>
    public string? PathPrefix { get; set; }

    /// <summary>Inbound: requests with exactly this path.</summary>
    public string? Path { get; set; }

    public string? Method { get; set; }

    /// <summary>Outbound: calls to this registry service.</summary>
    public string? Service { get; set; }

    public double? Percentage { get; set; }

    /// <summary>This route's or service's <c>Tracing:Keep:SlowerThanMs</c>.</summary>
    public int? SlowerThanMs { get; set; }

    /// <summary>Whether this inbound override applies to a request: its method, if set, and its exact path or path prefix.</summary>
    public bool MatchesInbound(string? path, string method) =>
        (Method is null || string.Equals(Method, method, StringComparison.OrdinalIgnoreCase))
        && (Path is not null ? string.Equals(Path, path, StringComparison.Ordinal) : PathPrefix is not null && path?.StartsWith(PathPrefix, StringComparison.Ordinal) == true);
}

public sealed class CustomTagOptions
{
    public LiteralTagOptions? Literal { get; set; }
    public ValueSourceTagOptions? Environment { get; set; }
    public ValueSourceTagOptions? Header { get; set; }
}

public sealed class LiteralTagOptions
{
    public string? Value { get; set; }
}

public sealed class ValueSourceTagOptions
{
    public string? Name { get; set; }
    public string? DefaultValue { get; set; }
}

public sealed class OtlpOptions
{
    /// <summary>Overrides <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string? Endpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>; overrides <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>.</summary>
    public string? Protocol { get; set; }

    /// <summary><c>key=value,key2=value2</c>; overrides <c>OTEL_EXPORTER_OTLP_HEADERS</c>. Never shown by <c>/config_dump</c>.</summary>
    public string? Headers { get; set; }

    public int? TimeoutMilliseconds { get; set; }

    public int MaxQueueSize { get; set; } = 2048;
    public int MaxExportBatchSize { get; set; } = 512;
    public int ScheduledDelayMilliseconds { get; set; } = 1000;
}
