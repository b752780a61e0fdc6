using MeshLite.Configuration;

namespace MeshLite.Istio;

/// <summary>
/// Where a resource came from and how old it is. Istio orders by <c>creationTimestamp</c>, then name, then namespace;
/// a resource without one (as in a repository) is as old as its place in the files, read in name order.
/// </summary>
internal sealed record ResourceMeta(string Kind, string Name, string Namespace, DateTimeOffset? Created, int Order, string File, int Document)
{
    /// <summary><c>Telemetry istio-system/mesh-default</c>, as <c>/config_dump</c> and the warnings name it.</summary>
    public string Display => Namespace.Length == 0 ? $"{Kind} {Name}" : $"{Kind} {Namespace}/{Name}";

    public static IComparer<ResourceMeta> Oldest { get; } = Comparer<ResourceMeta>.Create((a, b) =>
    {
        var byTime = (a.Created ?? DateTimeOffset.MinValue).CompareTo(b.Created ?? DateTimeOffset.MinValue);
        if (byTime != 0)
        {
            return byTime;
        }

        // Without timestamps, the order in the files; with equal timestamps, Istio's name then namespace.
        return a.Created is null ? a.Order.CompareTo(b.Order)
            : string.CompareOrdinal(a.Name, b.Name) is var byName and not 0 ? byName
            : string.CompareOrdinal(a.Namespace, b.Namespace);
    });
}

/// <summary><c>CLIENT_AND_SERVER</c>, <c>CLIENT</c> (MeshLite's outbound listener) or <c>SERVER</c> (inbound).</summary>
internal enum WorkloadMode
{
    ClientAndServer,
    Client,
    Server,
}

internal sealed record CustomTagSpec(string Kind, string Value, string? DefaultValue);

internal sealed record TracingSpec(
    WorkloadMode Mode,
    string? Provider,
    double? RandomSamplingPercentage,
    bool? DisableSpanReporting,
    bool? UseRequestIdForTraceSampling,
    IReadOnlyDictionary<string, CustomTagSpec>? CustomTags);

internal sealed record AccessLoggingSpec(WorkloadMode Mode, IReadOnlyList<string> Providers, bool? Disabled);

internal sealed record TelemetryResource(ResourceMeta Meta, IReadOnlyDictionary<string, string>? Selector, bool HasTargetRefs,
    IReadOnlyList<TracingSpec> Tracing, IReadOnlyList<AccessLoggingSpec> AccessLogging);

internal sealed record RouteDestinationSpec(string Host, int? Port, int Weight);

internal sealed record HttpRuleSpec(string? Name, IReadOnlyList<HttpMatchOptions> Match, IReadOnlyList<IReadOnlyDictionary<string, string>?> SourceLabels,
    IReadOnlyList<RouteDestinationSpec> Route, TimeSpan? Timeout, RetryOptions? Retries, FaultOptions? Fault, RewriteOptions? Rewrite, RouteHeadersOptions? Headers);

internal sealed record VirtualServiceResource(ResourceMeta Meta, IReadOnlyList<string> Hosts, bool ForSidecars, IReadOnlyList<string> ExportTo, IReadOnlyList<HttpRuleSpec> Http);

internal sealed record ServicePortSpec(int Number, string Name, string? Protocol, int TargetPort);

internal sealed record ServiceEndpointSpec(string Address, IReadOnlyDictionary<string, int> Ports);

internal sealed record ServiceEntryResource(ResourceMeta Meta, IReadOnlyList<string> Hosts, IReadOnlyList<ServicePortSpec> Ports, string Resolution,
    IReadOnlyList<ServiceEndpointSpec> Endpoints, IReadOnlyList<string> ExportTo);

internal sealed record SidecarResource(ResourceMeta Meta, IReadOnlyDictionary<string, string>? Selector, string? OutboundTrafficPolicy);

/// <summary>The fields of Istio's mesh config MeshLite reads (from the <c>istio</c> ConfigMap's <c>mesh</c> key or a mesh config file).</summary>
internal sealed record MeshConfigResource(
    ResourceMeta Meta,
    string? AccessLogFile,
    string? AccessLogEncoding,
    string? AccessLogFormat,
    bool? EnableTracing,
    double? DefaultSampling,
    string? OutboundTrafficPolicy,
    IReadOnlyList<string> DefaultTracingProviders,
    IReadOnlyList<string> DefaultAccessLogProviders,
    IReadOnlyList<string> ExtensionProviders,
    string? RootNamespace,
    TimeSpan? TerminationDrainDuration);

/// <summary>Everything read from <c>--istio</c>: the resources MeshLite applies, what it skipped, and its warnings.</summary>
internal sealed class IstioResourceSet
{
    public List<TelemetryResource> Telemetries { get; } = [];
    public List<VirtualServiceResource> VirtualServices { get; } = [];
    public List<ServiceEntryResource> ServiceEntries { get; } = [];
    public List<SidecarResource> Sidecars { get; } = [];
    public List<MeshConfigResource> MeshConfigs { get; } = [];

    /// <summary>Kinds MeshLite does not read, and how many of each (Deployments, Services, DestinationRules, …).</summary>
    public SortedDictionary<string, int> Skipped { get; } = new(StringComparer.Ordinal);

    public List<string> Warnings { get; } = [];

    public List<string> Files { get; } = [];

    public int Count => Telemetries.Count + VirtualServices.Count + ServiceEntries.Count + Sidecars.Count + MeshConfigs.Count;

    /// <summary>One line for the log: what was read and what was skipped.</summary>
    public string Summary()
    {
        var read = string.Join(", ", new (string Kind, int Count)[]
            {
                ("Telemetry", Telemetries.Count), ("VirtualService", VirtualServices.Count), ("ServiceEntry", ServiceEntries.Count),
                ("Sidecar", Sidecars.Count), ("mesh config", MeshConfigs.Count),
            }.Where(k => k.Count > 0).Select(k => $"{k.Count} {k.Kind}"));
        var skipped = Skipped.Count == 0 ? "" : "; skipped (not read by MeshLite): " + string.Join(", ", Skipped.Select(s => $"{s.Value} {s.Key}"));
        return $"{(read.Length == 0 ? "no resources MeshLite reads" : read)} from {Files.Count} file(s){skipped}";
    }
}
