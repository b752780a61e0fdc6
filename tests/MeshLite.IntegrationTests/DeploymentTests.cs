using System.Text.Json;
using System.Text.RegularExpressions;
using MeshLite.Configuration;
using MeshLite.IntegrationTests.Common;
using YamlDotNet.RepresentationModel;

namespace MeshLite.IntegrationTests;

/// <summary>
/// No container engine or Helm runs here, so the shipping files are checked against the project: the chart's values,
/// schema and template references agree, plain manifests parse, and the Dockerfile builds what the project publishes.
/// </summary>
public class DeploymentTests
{
    private static readonly string _chart = Path.Combine(Repository.Root, "helm", "meshlite");

    private static YamlMappingNode LoadYaml(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);

        // Compose files share settings through merge keys (<<: *anchor).
        stream.Load(new YamlDotNet.Core.MergingParser(new YamlDotNet.Core.Parser(reader)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static IEnumerable<string> Paths(YamlMappingNode node, string prefix = "")
    {
        foreach (var (key, value) in node.Children)
        {
            var path = prefix + ((YamlScalarNode)key).Value;
            yield return path;
            if (value is YamlMappingNode child)
            {
                foreach (var nested in Paths(child, path + "."))
                {
                    yield return nested;
                }
            }
        }
    }

    private static bool SchemaDeclares(JsonElement schema, string path)
    {
        var node = schema;
        foreach (var part in path.Split('.'))
        {
            if (node.TryGetProperty("properties", out var properties) && properties.TryGetProperty(part, out var next))
            {
                node = next;
            }
            else if (!node.TryGetProperty("additionalProperties", out var open) ? !node.TryGetProperty("properties", out _) : open.ValueKind != JsonValueKind.False)
            {
                // A free-form object (JSON Schema allows any key unless additionalProperties is false).
                return true;
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    [Fact]
    public void Chart_HasTheConventionalLayout()
    {
        foreach (var file in new[] { "Chart.yaml", "values.yaml", "values.schema.json", "README.md", "templates/_helpers.tpl", "templates/NOTES.txt",
                     "templates/deployment.yaml", "templates/service.yaml", "templates/configmap.yaml", "templates/jaeger.yaml" })
        {
            Assert.True(File.Exists(Path.Combine(_chart, file)), file);
        }

        var chart = LoadYaml(Path.Combine(_chart, "Chart.yaml"));
        Assert.Equal("v2", chart["apiVersion"].ToString());
        Assert.Equal("meshlite", chart["name"].ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+$", chart["version"].ToString());
    }

    [Fact]
    public void ValuesAndSchema_DeclareTheSameKeys()
    {
        var values = LoadYaml(Path.Combine(_chart, "values.yaml"));
        using var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(_chart, "values.schema.json")));

        foreach (var path in Paths(values))
        {
            Assert.True(SchemaDeclares(schema.RootElement, path), $"values.yaml has '{path}', values.schema.json does not");
        }

        var declared = Paths(values).ToHashSet();
        foreach (var required in schema.RootElement.GetProperty("required").EnumerateArray())
        {
            Assert.Contains(required.GetString()!, declared);
        }

        Assert.Equal(1.0, double.Parse(((YamlScalarNode)((YamlMappingNode)values["sidecar"])["sampling"]).Value!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void EveryValueATemplateUses_IsDeclaredInValuesAndSchema()
    {
        var values = Paths(LoadYaml(Path.Combine(_chart, "values.yaml"))).ToHashSet();
        using var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(_chart, "values.schema.json")));
        var templates = Directory.GetFiles(Path.Combine(_chart, "templates"));
        var used = templates.SelectMany(t => Regex.Matches(Regex.Replace(File.ReadAllText(t), @"\{\{/\*.*?\*/\}\}", "", RegexOptions.Singleline), @"\.Values\.([A-Za-z0-9_.]+)").Select(m => m.Groups[1].Value.TrimEnd('.'))).Distinct().ToList();

        Assert.NotEmpty(used);
        foreach (var path in used)
        {
            Assert.True(values.Contains(path), $"templates use .Values.{path}, which values.yaml does not declare");
            Assert.True(SchemaDeclares(schema.RootElement, path), $"templates use .Values.{path}, which values.schema.json does not declare");
        }

        var defines = templates.SelectMany(t => Regex.Matches(File.ReadAllText(t), @"define ""([^""]+)""")).Select(m => m.Groups[1].Value).ToHashSet();
        foreach (var include in templates.SelectMany(t => Regex.Matches(File.ReadAllText(t), @"include ""([^""]+)""").Select(m => m.Groups[1].Value)))
        {
            Assert.Contains(include, defines);
        }

        Assert.Contains("meshlite.sidecar", defines);
    }

    [Fact]
    public void SidecarBase_IsPlainYaml_WithIdentityFromTheDownwardApi_AndReadinessOnTheMetricsPort()
    {
        var helpers = File.ReadAllText(Path.Combine(_chart, "templates", "_helpers.tpl"));
        Assert.Contains("include \"meshlite.sidecarBase\" . | fromYaml", helpers);
        var stream = new YamlStream();
        stream.Load(new StringReader(MeshLite.Injection.SidecarTemplate.Extract(File.ReadAllText(Path.Combine(_chart, "templates", "_sidecar.tpl")))));
        var container = (YamlMappingNode)stream.Documents[0].RootNode;
        var env = ((YamlSequenceNode)container["env"]).Children.Cast<YamlMappingNode>().ToDictionary(e => e["name"].ToString());
        foreach (var (variable, field) in new[] { ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"), ("INSTANCE_IP", "status.podIP") })
        {
            Assert.Equal(field, env[variable]["valueFrom"]["fieldRef"]["fieldPath"].ToString());
        }

        Assert.Equal("/healthz/ready", container["readinessProbe"]["httpGet"]["path"].ToString());
        Assert.Equal(new MeshLiteOptions().Metrics.Port.ToString(), container["readinessProbe"]["httpGet"]["port"].ToString());
        Assert.Equal("RuntimeDefault", container["securityContext"]["seccompProfile"]["type"].ToString());
    }

    [Fact]
    public void PlainManifests_Parse()
    {
        var plain = Directory.GetFiles(Path.Combine(Repository.Root, "config"), "*.yaml", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(Path.Combine(Repository.Root, "config"), "*.yml", SearchOption.AllDirectories))
            .Where(f => !File.ReadAllText(f).Contains("{{", StringComparison.Ordinal))
            .ToList();
        foreach (var file in plain)
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(file);
            stream.Load(reader);
            Assert.NotEmpty(stream.Documents);
        }
    }

    [Fact]
    public void Compose_RunsEachServiceAsAnAppContainer_WithAMeshLiteSharingItsNetwork_AndJaegerV2()
    {
        var compose = LoadYaml(Path.Combine(Repository.Root, "config", "compose.yaml"));
        var services = (YamlMappingNode)compose["services"];
        var names = services.Children.Keys.Select(k => k.ToString()).ToHashSet();
        Assert.StartsWith("jaegertracing/jaeger:2", services["jaeger"]["image"].ToString());
        foreach (var service in new[] { "frontend", "api-gateway", "payment", "bank-api", "inventory" })
        {
            // The app: its own container, calling out through the sidecar, and only to services of the mesh.
            var app = (YamlMappingNode)services[service];
            Assert.StartsWith("python:", app["image"].ToString());
            var appEnv = (YamlMappingNode)app["environment"];
            Assert.Equal("http://127.0.0.1:15001", appEnv["HTTP_PROXY"].ToString());
            Assert.Equal("http://127.0.0.1:15001", appEnv["http_proxy"].ToString());
            Assert.DoesNotContain(".svc", appEnv["no_proxy"].ToString(), StringComparison.Ordinal);
            if (appEnv.Children.TryGetValue(new YamlScalarNode("CALLS"), out var calls))
            {
                Assert.All(calls.ToString().Split(','), c => Assert.Contains(c, names));
            }

            // The sidecar: in the app's network namespace, as in a pod, and registered under the app's name.
            var sidecar = (YamlMappingNode)services[service + "-sidecar"];
            Assert.Equal("service:" + service, sidecar["network_mode"].ToString());
            Assert.Equal(service, sidecar["environment"]["MeshLite__ServiceName"].ToString());
            Assert.Equal($"http://{service}:15006", sidecar["environment"][$"MeshLite__Services__{service}__Endpoints__0"].ToString());
            Assert.False(sidecar.Children.ContainsKey(new YamlScalarNode("ports")), "ports belong to the container that owns the network namespace");
        }

        var text = File.ReadAllText(Path.Combine(Repository.Root, "config", "compose.yaml"));
        Assert.Contains("OTEL_EXPORTER_OTLP_ENDPOINT: http://jaeger:4317", text);
        Assert.DoesNotContain("DemoApp", text);
        Assert.True(File.Exists(Path.Combine(Repository.Root, "config", "compose", "app.py")));
    }

    [Fact]
    public void Dockerfile_BuildsTheAotBinary_OnAChiseledBase_AsUid1337_ExposingTheDefaultPorts()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Repository.Root, "Dockerfile"));
        var arguments = Regex.Matches(dockerfile, @"(?m)^ARG (\w+)=(\S+)$").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var stages = Regex.Matches(dockerfile, @"^FROM (\S+) AS (\w+)$", RegexOptions.Multiline)
            .Select(m => (Image: Regex.Replace(m.Groups[1].Value, @"\$\{(\w+)\}", a => arguments[a.Groups[1].Value]), Name: m.Groups[2].Value)).ToList();
        Assert.Equal(["build", "final"], stages.Select(s => s.Name));
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:", stages[0].Image);
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/runtime-deps:.*chiseled$", stages[1].Image);

        // Base tags are pinned to a patch version, never a floating "10.0".
        foreach (var tag in Regex.Matches(dockerfile, @"(?m)^ARG (\w+_TAG)=(\S+)$").Select(m => m.Groups[2].Value))
        {
            Assert.Matches(@"^\d+\.\d+\.\d+-", tag);
        }

        Assert.Equal(2, Regex.Count(dockerfile, @"(?m)^ARG \w+_TAG="));
        Assert.Equal(2, Regex.Count(dockerfile, "-p:MeshLiteTraceUi=false"));
        Assert.Contains("-p:PublishAot=true", dockerfile);
        Assert.Matches(@"(?m)^USER 1337:1337$", dockerfile);
        Assert.DoesNotMatch(@"(?m)^HEALTHCHECK", dockerfile);

        var options = new MeshLiteOptions();
        var exposed = Regex.Match(dockerfile, @"(?m)^EXPOSE (.+)$").Groups[1].Value.Split(' ').Select(int.Parse).Order().ToArray();
        Assert.Equal(new[] { options.Admin.Port, options.Outbound.Port, options.Inbound.Port, options.Metrics.Port }.Order(), exposed);
        Assert.Equal("127.0.0.1", options.Admin.BindAddress);

        var csproj = File.ReadAllText(Path.Combine(Repository.Root, "src", "MeshLite", "MeshLite.csproj"));
        var assembly = Regex.Match(csproj, "<AssemblyName>(.+)</AssemblyName>").Groups[1].Value;
        Assert.Contains($"ENTRYPOINT [\"/app/{assembly}\"]", dockerfile);
        foreach (var copied in Regex.Matches(dockerfile, @"(?m)^COPY (?!--from)(.+) \S+$").SelectMany(m => m.Groups[1].Value.Split(' ')))
        {
            Assert.True(File.Exists(Path.Combine(Repository.Root, copied)) || Directory.Exists(Path.Combine(Repository.Root, copied)), $"Dockerfile copies '{copied}', which does not exist");
        }

        var ignore = File.ReadAllLines(Path.Combine(Repository.Root, ".dockerignore"));
        Assert.Contains("**/bin/", ignore);
        Assert.Contains("**/obj/", ignore);
    }
}
