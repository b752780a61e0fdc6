using System.Globalization;
using System.Reflection;
using MeshLite.Yaml;
using YamlDotNet.RepresentationModel;
using static MeshLite.Yaml.YamlNodes;

namespace MeshLite.Injection;

/// <summary>
/// Builds the MeshLite container: the chart's <c>meshlite.sidecarBase</c> block (from <c>_sidecar.tpl</c>, carried in
/// this binary) plus a <see cref="SidecarSpec"/>.
/// </summary>
internal static class SidecarTemplate
{
    public const string ContainerName = "meshlite";
    public const string ConfigVolume = "meshlite-config";
    public const string ConfigMountPath = "/etc/meshlite";
    public const int InboundPort = 15006;
    public const int OutboundPort = 15001;
    public const int MetricsPort = 15090;
    public const string WaitCommand = "/app/MeshLite";

    private const string ResourceName = "MeshLite.Injection._sidecar.tpl";
    private const string DefineStart = "{{- define \"meshlite.sidecarBase\" -}}";
    private const string DefineEnd = "{{- end -}}";

    private static readonly Lazy<string> _baseYaml = new(LoadBase);

    /// <summary>The block as written in the chart, plain YAML.</summary>
    public static string BaseYaml => _baseYaml.Value;

    /// <summary>The image the chart and <c>meshlite inject</c> use unless told otherwise: this build's version.</summary>
    public static string DefaultImage => ((YamlMappingNode)ParseBase()).GetString("image")!;

    public static YamlMappingNode Render(SidecarSpec spec)
    {
        var c = (YamlMappingNode)ParseBase();
        if (spec.Image is { } image)
        {
            c.Set("image", String(image));
        }

        if (spec.ImagePullPolicy is { } pullPolicy)
        {
            c.Set("imagePullPolicy", String(pullPolicy));
        }

        if (spec.ConfigMap is not null)
        {
            c.InsertBefore("ports", "args", new YamlSequenceNode(String("--config"), String(ConfigMountPath + "/meshlite.json")));
        }

        var env = c.GetSequence("env")!;
        void Env(string name, string value) => env.Add(EnvVar(name, value));
        var invariant = CultureInfo.InvariantCulture;
        Env("MeshLite__ServiceName", spec.ServiceName);
        Env("MeshLite__ServicePort", spec.ServicePort.ToString(invariant));
        Env("MeshLite__Inbound__AppPort", spec.AppPort.ToString(invariant));
        Env("MeshLite__ClusterDomain", spec.ClusterDomain);
        Env("MeshLite__Workload", spec.Workload);
        if (spec.Version is { } version)
        {
            Env("MeshLite__Version", version);
        }

        if (spec.Sampling is { } sampling)
        {
            Env("MeshLite__Tracing__Sampling", sampling.ToString(invariant));
        }

        Env("MeshLite__TerminationDrainDuration", spec.DrainDuration.ToString("c", invariant));
        if (spec.AppProbes is { } probes)
        {
            Env("MeshLite__AppProbes", probes);
        }

        if (spec.OtlpEndpoint is { } endpoint)
        {
            Env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
            Env("OTEL_EXPORTER_OTLP_PROTOCOL", spec.OtlpProtocol);
        }

        if (spec.Native)
        {
            // A native sidecar: started before the app (once its startupProbe passes), stopped after it.
            c.InsertBefore("ports", "restartPolicy", String("Always"));
        }
        else
        {
            // A plain container: the kubelet starts the next container only when postStart returns.
            var wait = new YamlSequenceNode(String(WaitCommand), String("wait"), String("--timeout"), String("60s"));
            c.InsertBefore("startupProbe", "lifecycle", Map(("postStart", Map(("exec", Map(("command", wait)))))));
        }

        if (spec.Resources is { } resources)
        {
            c.Set("resources", resources);
        }

        if (spec.ConfigMap is not null)
        {
            c.InsertBefore("securityContext", "volumeMounts", new YamlSequenceNode(Map(
                ("name", String(ConfigVolume)), ("mountPath", String(ConfigMountPath)), ("readOnly", new YamlScalarNode("true")))));
        }

        if (spec.RunAsUser is { } uid)
        {
            var security = c.GetMap("securityContext")!;
            security.Set("runAsGroup", Number(uid));
            security.Set("runAsUser", Number(uid));
        }

        return c;
    }

    public static YamlMappingNode ConfigVolumeFor(string configMap) =>
        Map(("name", String(ConfigVolume)), ("configMap", Map(("name", String(configMap)))));

    private static YamlNode ParseBase()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(BaseYaml));
        return stream.Documents[0].RootNode;
    }

    private static string LoadBase()
    {
        using var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The sidecar template {ResourceName} is not embedded in this build.");
        using var reader = new StreamReader(resource);
        return Extract(reader.ReadToEnd());
    }

    /// <summary>The YAML between the define and its end; the block holds no template action, so nothing is rendered.</summary>
    internal static string Extract(string template)
    {
        var start = template.IndexOf(DefineStart, StringComparison.Ordinal);
        var end = start < 0 ? -1 : template.IndexOf(DefineEnd, start, StringComparison.Ordinal);
        if (start < 0 || end < 0)
        {
            throw new InvalidOperationException("_sidecar.tpl has no meshlite.sidecarBase block.");
        }

        var yaml = template[(start + DefineStart.Length)..end].Trim('\n') + "\n";
        return yaml.Contains("{{", StringComparison.Ordinal)
            ? throw new InvalidOperationException("meshlite.sidecarBase must be plain YAML, without template actions.")
            : yaml;
    }
}
