using YamlDotNet.RepresentationModel;

namespace MeshLite.Injection;

/// <summary>
/// What varies between one injected MeshLite container and the next; the rest is the chart's <c>meshlite.sidecarBase</c>.
/// The chart's <c>meshlite.sidecar</c> helper fills in the same fields, in the same order.
/// </summary>
internal sealed record SidecarSpec
{
    public required string ServiceName { get; init; }
    public required string Workload { get; init; }
    public string? Version { get; init; }
    public int ServicePort { get; init; } = 80;
    public required int AppPort { get; init; }
    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>Null: the image in the base (this build's version).</summary>
    public string? Image { get; init; }
    public string? ImagePullPolicy { get; init; }

    /// <summary>An init container with <c>restartPolicy: Always</c> (Kubernetes 1.29+), else a plain container that holds the app until ready.</summary>
    public bool Native { get; init; } = true;

    /// <summary>Percent; null leaves MeshLite's own default (Istio's 1 %) or the mounted configuration's value.</summary>
    public double? Sampling { get; init; }
    public required TimeSpan DrainDuration { get; init; }

    /// <summary>The JSON for <c>MeshLite:AppProbes</c>, or null when no probe was moved.</summary>
    public string? AppProbes { get; init; }

    /// <summary>Null: spans are kept in <c>/debug/traces</c> only, never exported.</summary>
    public string? OtlpEndpoint { get; init; }
    public string OtlpProtocol { get; init; } = "grpc";

    /// <summary>A ConfigMap with <c>meshlite.json</c>, mounted at <c>/etc/meshlite</c> and watched for live reloads.</summary>
    public string? ConfigMap { get; init; }

    /// <summary>Null: the image's user (1337) is not written, for platforms that assign one (OpenShift).</summary>
    public long? RunAsUser { get; init; } = 1337;

    /// <summary>Replaces the base's resources block as a whole, as Istio's proxyCPU/proxyMemory annotations do.</summary>
    public YamlMappingNode? Resources { get; init; }
}
