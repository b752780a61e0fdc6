namespace MeshLite.Injection;

/// <summary>What <c>meshlite inject</c> applies to every workload it injects, before the workload's own annotations.</summary>
internal sealed record InjectOptions
{
    /// <summary>Null: this build's image (<see cref="SidecarTemplate.DefaultImage"/>).</summary>
    public string? Image { get; init; }
    public string? ImagePullPolicy { get; init; }

    /// <summary>A plain container instead of a native sidecar, for clusters before Kubernetes 1.29.</summary>
    public bool Legacy { get; init; }

    public string? OtlpEndpoint { get; init; }
    public string OtlpProtocol { get; init; } = "grpc";
    public string ClusterDomain { get; init; } = "cluster.local";
    public double? Sampling { get; init; }
    public long? RunAsUser { get; init; } = 1337;
}

/// <summary>The injected YAML, the notes for stderr, and how many pod templates got a sidecar.</summary>
internal sealed record InjectionResult(string Output, IReadOnlyList<string> Warnings, int Injected);

/// <summary>Input that cannot be injected; the message names the source, the position or the workload, and the field.</summary>
internal sealed class InjectionException(string message) : Exception(message);
