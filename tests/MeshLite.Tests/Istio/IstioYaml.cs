using MeshLite.Configuration;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Istio.Tests;

/// <summary>Writes Istio YAML to a temporary folder and reads it as a sidecar with the given identity would.</summary>
internal sealed class IstioYaml : IDisposable
{
    private IstioYaml(string folder) => Folder = folder;

    public string Folder { get; }

    public static IstioYaml Write(params (string File, string Text)[] files)
    {
        var folder = Path.Combine(Path.GetTempPath(), "meshlite-istio-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        foreach (var (file, text) in files)
        {
            File.WriteAllText(Path.Combine(folder, file), text);
        }

        return new IstioYaml(folder);
    }

    public static IstioYaml Write(string text) => Write(("istio.yaml", text));

    /// <summary>The translation for a sidecar with these <c>MeshLite:</c> settings, and the options they give after validation.</summary>
    public (IstioTranslation Translation, MeshLiteOptions Options) Apply(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["MeshLite:ServiceName"] = "checkout",
            ["MeshLite:Namespace"] = "shop",
            ["MeshLite:Inbound:AppPort"] = "8080",
        };
        foreach (var (key, value) in settings)
        {
            values["MeshLite:" + key] = value;
        }

        var baseConfiguration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var workload = IstioWorkloads.From(baseConfiguration);
        var translation = IstioTranslation.Translate(IstioResourceReader.Read(Folder, workload.Namespace), workload);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(translation.Keys()).AddInMemoryCollection(values).Build();
        return (translation, MeshLiteSettings.Load(configuration).Options);
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
