using System.Text.Json;
using System.Text.Json.Serialization;

namespace MeshLite.Configuration;

/// <summary>
/// The app's kubelet probes that <c>meshlite inject</c> moved onto MeshLite's metrics port, by the path the kubelet now
/// asks (<c>/app-health/&lt;container&gt;/readyz|livez|startupz</c>), each in the Kubernetes probe's own shape.
/// </summary>
internal static class AppProbes
{
    public const string PathPrefix = "/app-health/";

    /// <summary>Parses <see cref="MeshLiteOptions.AppProbes"/>; an error names the key and what is wrong.</summary>
    public static IReadOnlyDictionary<string, AppProbe> Parse(string? json, List<string>? errors = null)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return new Dictionary<string, AppProbe>();
        }

        Dictionary<string, AppProbe>? probes;
        try
        {
            probes = JsonSerializer.Deserialize(json, AppProbesJsonContext.Default.DictionaryStringAppProbe);
        }
        catch (JsonException ex)
        {
            errors?.Add($"MeshLite:AppProbes is not a JSON object of probes: {ex.Message}");
            return new Dictionary<string, AppProbe>();
        }

        probes ??= [];
        foreach (var (path, probe) in probes)
        {
            if (!path.StartsWith(PathPrefix, StringComparison.Ordinal))
            {
                errors?.Add($"MeshLite:AppProbes '{path}' must start with {PathPrefix}.");
            }

            var port = probe.HttpGet?.Port ?? probe.TcpSocket?.Port;
            if ((probe.HttpGet is null) == (probe.TcpSocket is null))
            {
                errors?.Add($"MeshLite:AppProbes '{path}' needs exactly one of httpGet and tcpSocket.");
            }
            else if (port is not (> 0 and <= 65535))
            {
                errors?.Add($"MeshLite:AppProbes '{path}' port '{port}' must be a number between 1 and 65535 (named ports are resolved by meshlite inject).");
            }
            else if (probe.HttpGet is { Scheme: { } scheme } && scheme is not ("HTTP" or "HTTPS"))
            {
                errors?.Add($"MeshLite:AppProbes '{path}' scheme '{scheme}' must be HTTP or HTTPS.");
            }
        }

        return probes;
    }
}

internal sealed class AppProbe
{
    [JsonPropertyName("httpGet")]
    public HttpGetProbe? HttpGet { get; set; }

    [JsonPropertyName("tcpSocket")]
    public TcpSocketProbe? TcpSocket { get; set; }

    /// <summary>The kubelet's own default is 1 s.</summary>
    [JsonPropertyName("timeoutSeconds")]
    public int? TimeoutSeconds { get; set; }
}

internal sealed class HttpGetProbe
{
    [JsonPropertyName("path")]
    public string? Path { get; set; }

    [JsonPropertyName("port")]
    public int Port { get; set; }

    [JsonPropertyName("scheme")]
    public string? Scheme { get; set; }

    [JsonPropertyName("httpHeaders")]
    public List<ProbeHeader>? HttpHeaders { get; set; }
}

internal sealed class ProbeHeader
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("value")]
    public string Value { get; set; } = "";
}

internal sealed class TcpSocketProbe
{
    [JsonPropertyName("port")]
    public int Port { get; set; }
}

[JsonSerializable(typeof(Dictionary<string, AppProbe>))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class AppProbesJsonContext : JsonSerializerContext;
