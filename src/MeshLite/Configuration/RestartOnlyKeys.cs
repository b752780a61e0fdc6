namespace MeshLite.Configuration;

/// <summary>
/// The keys a running sidecar cannot change: who it is (its identity is in every span, metric and peer exchange),
/// where it listens (Kestrel binds once), the listener limits, and the span exporter and its queue. Everything else
/// — sampling, overrides, custom tags, the access log, the registry, faults, retries, timeouts — reloads live.
/// </summary>
internal static class RestartOnlyKeys
{
    private static readonly Key[] _keys =
    [
        new("ServiceName", o => o.ServiceName, (o, r) => o.ServiceName = r.ServiceName),
        new("Namespace", o => o.Namespace, (o, r) => o.Namespace = r.Namespace),
        new("PodName", o => o.PodName, (o, r) => o.PodName = r.PodName),
        new("PodIp", o => o.PodIp, (o, r) => o.PodIp = r.PodIp),
        new("ServicePort", o => o.ServicePort, (o, r) => o.ServicePort = r.ServicePort),
        new("Zone", o => o.Zone, (o, r) => o.Zone = r.Zone),
        new("ClusterId", o => o.ClusterId, (o, r) => o.ClusterId = r.ClusterId),
        new("MeshId", o => o.MeshId, (o, r) => o.MeshId = r.MeshId),
        new("ClusterDomain", o => o.ClusterDomain, (o, r) => o.ClusterDomain = r.ClusterDomain),
        new("AppProbes", o => o.AppProbes, (o, r) => o.AppProbes = r.AppProbes),
        new("CanonicalRevision", o => o.CanonicalRevision, (o, r) => o.CanonicalRevision = r.CanonicalRevision),
        new("Workload", o => o.Workload, (o, r) => o.Workload = r.Workload),
        new("App", o => o.App, (o, r) => o.App = r.App),
        new("Version", o => o.Version, (o, r) => o.Version = r.Version),
        new("Inbound:Port", o => o.Inbound.Port, (o, r) => o.Inbound.Port = r.Inbound.Port),
        new("Inbound:BindAddress", o => o.Inbound.BindAddress, (o, r) => o.Inbound.BindAddress = r.Inbound.BindAddress),
        new("Inbound:AppPort", o => o.Inbound.AppPort, (o, r) => o.Inbound.AppPort = r.Inbound.AppPort),
        new("Outbound:Port", o => o.Outbound.Port, (o, r) => o.Outbound.Port = r.Outbound.Port),
        new("Outbound:BindAddress", o => o.Outbound.BindAddress, (o, r) => o.Outbound.BindAddress = r.Outbound.BindAddress),
        new("Admin:Port", o => o.Admin.Port, (o, r) => o.Admin.Port = r.Admin.Port),
        new("Admin:BindAddress", o => o.Admin.BindAddress, (o, r) => o.Admin.BindAddress = r.Admin.BindAddress),
        new("Metrics:Port", o => o.Metrics.Port, (o, r) => o.Metrics.Port = r.Metrics.Port),
        new("Metrics:BindAddress", o => o.Metrics.BindAddress, (o, r) => o.Metrics.BindAddress = r.Metrics.BindAddress),
        new("DemoApp:Port", o => o.DemoApp.Port, (o, r) => o.DemoApp.Port = r.DemoApp.Port),
        new("Limits:MaxRequestHeadersTotalSize", o => o.Limits.MaxRequestHeadersTotalSize, (o, r) => o.Limits.MaxRequestHeadersTotalSize = r.Limits.MaxRequestHeadersTotalSize),
        new("Limits:MaxRequestHeaderCount", o => o.Limits.MaxRequestHeaderCount, (o, r) => o.Limits.MaxRequestHeaderCount = r.Limits.MaxRequestHeaderCount),
        new("Limits:MaxRequestBodySize", o => o.Limits.MaxRequestBodySize, (o, r) => o.Limits.MaxRequestBodySize = r.Limits.MaxRequestBodySize),
        new("AccessLog:BufferSize", o => o.AccessLog.BufferSize, (o, r) => o.AccessLog.BufferSize = r.AccessLog.BufferSize),
        new("Tracing:DebugSpanCapacity", o => o.Tracing.DebugSpanCapacity, (o, r) => o.Tracing.DebugSpanCapacity = r.Tracing.DebugSpanCapacity),
        new("Tracing:Otlp:Endpoint", o => o.Tracing.Otlp.Endpoint, (o, r) => o.Tracing.Otlp.Endpoint = r.Tracing.Otlp.Endpoint),
        new("Tracing:Otlp:Protocol", o => o.Tracing.Otlp.Protocol, (o, r) => o.Tracing.Otlp.Protocol = r.Tracing.Otlp.Protocol),
        new("Tracing:Otlp:Headers", o => o.Tracing.Otlp.Headers, (o, r) => o.Tracing.Otlp.Headers = r.Tracing.Otlp.Headers),
        new("Tracing:Otlp:TimeoutMilliseconds", o => o.Tracing.Otlp.TimeoutMilliseconds, (o, r) => o.Tracing.Otlp.TimeoutMilliseconds = r.Tracing.Otlp.TimeoutMilliseconds),
        new("Tracing:Otlp:MaxQueueSize", o => o.Tracing.Otlp.MaxQueueSize, (o, r) => o.Tracing.Otlp.MaxQueueSize = r.Tracing.Otlp.MaxQueueSize),
        new("Tracing:Otlp:MaxExportBatchSize", o => o.Tracing.Otlp.MaxExportBatchSize, (o, r) => o.Tracing.Otlp.MaxExportBatchSize = r.Tracing.Otlp.MaxExportBatchSize),
        new("Istio:Path", o => o.Istio.Path, (o, r) => o.Istio.Path = r.Istio.Path),
        new("Istio:RootNamespace", o => o.Istio.RootNamespace, (o, r) => o.Istio.RootNamespace = r.Istio.RootNamespace),
        new("Tracing:Otlp:ScheduledDelayMilliseconds", o => o.Tracing.Otlp.ScheduledDelayMilliseconds, (o, r) => o.Tracing.Otlp.ScheduledDelayMilliseconds = r.Tracing.Otlp.ScheduledDelayMilliseconds),
    ];

    /// <summary>The full names of every restart-only key, for the README and <c>/config_dump</c>.</summary>
    public static IEnumerable<string> Names => _keys.Select(k => MeshLiteOptions.SectionName + ":" + k.Name);

    /// <summary>Puts the running value of every restart-only key into <paramref name="next"/>; returns the keys that differed.</summary>
    public static IReadOnlyList<string> KeepRunningValues(MeshLiteOptions running, MeshLiteOptions next)
    {
        var changed = new List<string>();
        foreach (var key in _keys)
        {
            if (!Equals(key.Read(running), key.Read(next)))
            {
                changed.Add(MeshLiteOptions.SectionName + ":" + key.Name);
                key.KeepRunning(next, running);
            }
        }

        return changed;
    }

    private sealed record Key(string Name, Func<MeshLiteOptions, object?> Read, Action<MeshLiteOptions, MeshLiteOptions> KeepRunning);
}
