using System.Text.Json;
using System.Text.Json.Serialization;
using MeshLite.Configuration;

namespace MeshLite.Tools;

/// <summary>
/// A local mesh (<c>config/mesh/*.json</c>): the services, each with the built-in demo app (its behaviour) or the user's
/// own app (a command line), and sidecar settings for all services and per service (any <c>MeshLite:</c> key).
/// </summary>
internal sealed class MeshFile
{
    public Dictionary<string, MeshService> Services { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The service the traffic generator calls; default: the first service.</summary>
    public string? Entry { get; set; }

    public string EntryPath { get; set; } = "/checkout";

    /// <summary>Requests per second sent to the entry service while the mesh runs (0: none).</summary>
    public double TrafficRate { get; set; } = 2;

    /// <summary>Settings for every sidecar, as <c>MeshLite:</c> keys without the prefix (<c>"Tracing:Sampling": "100"</c>).</summary>
    public Dictionary<string, string> Sidecar { get; set; } = new(StringComparer.Ordinal);

    public static MeshFile Load(string path)
    {
        MeshFile? mesh;
        try
        {
            mesh = JsonSerializer.Deserialize(File.ReadAllText(path), MeshFileJsonContext.Default.MeshFile);
        }
        catch (JsonException ex)
        {
            throw new MeshLiteConfigurationException($"{path}: {ex.Message}", ex);
        }

        if (mesh is null || mesh.Services.Count == 0)
        {
            throw new MeshLiteConfigurationException($"{path}: 'services' is empty.");
        }

        var errors = new List<string>();
        foreach (var (name, service) in mesh.Services)
        {
            if ((service.App is null) == (service.Command is null))
            {
                errors.Add($"{path}: services.{name} must have exactly one of 'app' (the demo app) or 'command' (your own app).");
            }

            foreach (var call in service.App?.Calls ?? [])
            {
                if (!mesh.Services.ContainsKey(call))
                {
                    errors.Add($"{path}: services.{name}.app.calls names '{call}', which is not a service of this mesh.");
                }
            }
        }

        if (mesh.Entry is not null && !mesh.Services.ContainsKey(mesh.Entry))
        {
            errors.Add($"{path}: entry '{mesh.Entry}' is not a service of this mesh.");
        }

        if (errors.Count > 0)
        {
            throw new MeshLiteConfigurationException(errors);
        }

        mesh.Entry ??= mesh.Services.Keys.First();
        return mesh;
    }
}

internal sealed class MeshService
{
    /// <summary>The built-in demo app and its behaviour.</summary>
    public DemoAppOptions? App { get; set; }

    /// <summary>Your own app: a shell command; <c>{port}</c> is its port, <c>{outbound}</c> the sidecar's outbound address.</summary>
    public string? Command { get; set; }

    /// <summary>The port your own app listens on; default: a free port, passed as <c>{port}</c> and <c>PORT</c>.</summary>
    public int? Port { get; set; }

    public Dictionary<string, string> Sidecar { get; set; } = new(StringComparer.Ordinal);
}

[JsonSerializable(typeof(MeshFile))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class MeshFileJsonContext : JsonSerializerContext;
