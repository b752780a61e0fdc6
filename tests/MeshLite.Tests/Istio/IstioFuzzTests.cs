using MeshLite.Configuration;
using MeshLite.Tests;

namespace MeshLite.Istio.Tests;

/// <summary>Whatever is in the folder, reading it ends in resources or in a configuration error naming its place — never another exception.</summary>
public class IstioFuzzTests
{
    private static readonly string[] _fragments =
    [
        "{", "}", "[", "]", ": ", "- ", "\n", "  ", "&a ", "*a", "!!int ", "---\n", "~", "\"", "'", "#", "%", "null", "0x", "-1", "1e400", "\t", "? ",
        "apiVersion: networking.istio.io/v1\n", "kind: VirtualService\n", "kind: Telemetry\n", "percentage: {value: ", "hosts: ", "http: ", "mesh: |\n",
    ];

    [Fact]
    public void MutatedRealResources_EndInResourcesOrAPositionedError_NeverAnotherException()
    {
        var folder = RepositoryFile.Find("config", "mesh", "istio");
        var sources = Directory.GetFiles(folder, "*.yaml").Select(File.ReadAllText).ToArray();
        Assert.NotEmpty(sources);
        var random = new Random(16);
        var refused = 0;
        for (var i = 0; i < 1000; i++)
        {
            var text = sources[random.Next(sources.Length)];
            var chars = text.ToList();
            for (var edits = random.Next(1, 6); edits > 0; edits--)
            {
                var at = random.Next(chars.Count + 1);
                switch (random.Next(3))
                {
                    case 0 when chars.Count > 0:
                        chars.RemoveRange(Math.Min(at, chars.Count - 1), Math.Min(random.Next(1, 12), chars.Count - Math.Min(at, chars.Count - 1)));
                        break;
                    case 1:
                        chars.InsertRange(at, _fragments[random.Next(_fragments.Length)]);
                        break;
                    default:
                        chars.Insert(at, (char)random.Next(0, 0x2FF));
                        break;
                }
            }

            using var yaml = IstioYaml.Write(new string([.. chars]));
            try
            {
                yaml.Apply();
            }
            catch (MeshLiteConfigurationException ex)
            {
                refused++;
                Assert.All(ex.Errors, e => Assert.True(e.StartsWith("--istio: ", StringComparison.Ordinal) || e.StartsWith("MeshLite:", StringComparison.Ordinal), e));
            }
        }

        // The mutations are not all harmless: many of them must have been refused, each with its place.
        Assert.InRange(refused, 100, 1000);
    }
}
