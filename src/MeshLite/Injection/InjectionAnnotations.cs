namespace MeshLite.Injection;

/// <summary>Per-workload options on the pod template, named in the style of Istio's <c>sidecar.istio.io/*</c>.</summary>
internal static class InjectionAnnotations
{
    public const string Prefix = "sidecar.meshlite.io/";

    /// <summary><c>"false"</c> skips the workload (a label wins over an annotation, as Istio's does; other values are ignored).</summary>
    public const string Inject = Prefix + "inject";

    /// <summary>Percent of new traces sampled, as Istio's <c>tracing.sampling</c>.</summary>
    public const string Sampling = Prefix + "sampling";

    public const string Service = Prefix + "service";
    public const string AppPort = Prefix + "appPort";
    public const string ServicePort = Prefix + "servicePort";

    /// <summary><c>"true"</c> or <c>"false"</c>: overrides <c>--legacy</c> for this workload (Istio's <c>sidecar.istio.io/nativeSidecar</c>).</summary>
    public const string NativeSidecar = Prefix + "nativeSidecar";

    /// <summary>Istio's <c>terminationDrainDuration</c> for this workload, e.g. <c>10s</c>; shorter than the pod's grace period.</summary>
    public const string DrainDuration = Prefix + "drainDuration";

    public const string ProxyCpu = Prefix + "proxyCPU";
    public const string ProxyMemory = Prefix + "proxyMemory";
    public const string ProxyCpuLimit = Prefix + "proxyCPULimit";
    public const string ProxyMemoryLimit = Prefix + "proxyMemoryLimit";

    /// <summary><c>"false"</c>: the app's calls do not go through MeshLite (no <c>HTTP_PROXY</c>).</summary>
    public const string HttpProxy = Prefix + "httpProxy";

    /// <summary><c>"false"</c>: the app's HTTP and TCP probes are left as written (Istio's <c>rewriteAppHTTPProbers</c>).</summary>
    public const string RewriteAppProbers = Prefix + "rewriteAppHTTPProbers";

    /// <summary>A ConfigMap with a <c>meshlite.json</c> (registry, custom tags, access log, …), mounted and reloaded live.</summary>
    public const string ConfigMap = Prefix + "configMap";

    /// <summary>Written by injection: what it added, so that injecting again first removes exactly that.</summary>
    public const string Status = Prefix + "status";

    public const string DefaultContainer = "kubectl.kubernetes.io/default-container";
}
