using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using k8s;
using k8s.Models;
using MeshLite.Injection;
using MeshLite.IntegrationTests.Common;
using MeshLite.Yaml;
using MeshLite.Tests.Injection;
using YamlDotNet.RepresentationModel;

namespace MeshLite.IntegrationTests;

/// <summary>
/// The Helm chart, rendered (tests/tools/helm-template) and read through the official client's models: its values
/// against its schema, its pods against Pod Security "restricted", and its sidecar against <c>meshlite inject</c>'s.
/// </summary>
public class ChartTests
{
    private static readonly string _chart = HelmTemplate.Chart;

    private static JsonNode ValuesJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return YamlNodes.ToJson(stream.Documents[0].RootNode)!;
    }

    private static EvaluationResults Validate(JsonNode values)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(_chart, "values.schema.json")));
        using var document = JsonDocument.Parse(values.ToJsonString());
        return schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static List<object> Load(string rendered) => KubernetesYaml.LoadAllFromString(rendered);

    private static V1Deployment Deployment(string rendered, string name = "shop") => Load(rendered).OfType<V1Deployment>().Single(d => d.Metadata.Name == name);

    private static string? Env(V1Container c, string name) => c.Env?.SingleOrDefault(e => e.Name == name)?.Value;

    [Fact]
    public void DocumentedValues_MatchTheSchema_StandaloneAndAsASubchart()
    {
        var values = ValuesJson(File.ReadAllText(Path.Combine(_chart, "values.yaml")));
        Assert.True(Validate(values).IsValid, "values.yaml does not match values.schema.json");

        // Helm adds these to a subchart's values; a schema that refuses them breaks every parent chart.
        var subchart = values.DeepClone();
        subchart["global"] = new JsonObject { ["imageRegistry"] = "registry.example" };
        subchart["enabled"] = true;
        Assert.True(Validate(subchart).IsValid);

        foreach (var (path, value) in new (string, JsonNode?)[] { ("sidecar.sampling", 200), ("sidecar.nativeSidecar", "sometimes"), ("sidecar.typo", 1),
                     ("app.image", ""), ("image.pullPolicy", "Sometimes"), ("sidecar.drainSeconds", -1), ("sidecar.otlpEndpoint", "jaeger:4317"), ("clusterDomain", "Cluster_Local") })
        {
            var bad = values.DeepClone();
            var parts = path.Split('.');
            var node = bad;
            foreach (var part in parts[..^1])
            {
                node = node[part]!;
            }

            node[parts[^1]] = value;
            Assert.False(Validate(bad).IsValid, $"the schema accepts {path} = {value?.ToJsonString()}");
        }
    }

    [Fact]
    public void ImageTag_DefaultsToTheChartsAppVersion_WhichIsMeshLitesVersion()
    {
        var chart = File.ReadAllText(Path.Combine(_chart, "Chart.yaml"));
        var appVersion = System.Text.RegularExpressions.Regex.Match(chart, "appVersion: \"(.+)\"").Groups[1].Value;
        Assert.Equal(typeof(SidecarInjector).Assembly.GetName().Version!.ToString(3), appVersion);
        Assert.Equal("meshlite:" + appVersion, SidecarTemplate.DefaultImage);
        Assert.Equal(SidecarTemplate.BaseYaml, SidecarTemplate.Extract(File.ReadAllText(Path.Combine(_chart, "templates", "_sidecar.tpl"))));
    }

    [Fact]
    public async Task Chart_RendersANativeSidecar_FromKubernetes129_AndAPlainOneBefore()
    {
        var native = Deployment(await HelmTemplate.RenderAsync()).Spec.Template.Spec;
        Assert.Equal("meshlite", native.InitContainers.Single().Name);
        Assert.Equal("Always", native.InitContainers[0].RestartPolicy);
        Assert.Equal(["app"], native.Containers.Select(c => c.Name));

        var legacy = Deployment(await HelmTemplate.RenderAsync(kubeVersion: "v1.28.9")).Spec.Template.Spec;
        Assert.Null(legacy.InitContainers);
        Assert.Equal(["meshlite", "app"], legacy.Containers.Select(c => c.Name));
        Assert.Equal(["/app/MeshLite", "wait", "--timeout", "60s"], legacy.Containers[0].Lifecycle.PostStart.Exec.Command);
        Assert.Equal("00:00:05", Env(legacy.Containers[0], "MeshLite__TerminationDrainDuration"));

        var forced = Deployment(await HelmTemplate.RenderAsync("sidecar: {nativeSidecar: false}\n")).Spec.Template.Spec;
        Assert.Equal("meshlite", forced.Containers[0].Name);
        var error = await Assert.ThrowsAsync<HelmTemplateException>(() => HelmTemplate.RenderAsync("sidecar: {drainSeconds: 30}\n"));
        Assert.Contains("sidecar.drainSeconds (30) must be shorter than the pod's terminationGracePeriodSeconds (30)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryPod_PassesRestrictedPodSecurity_IncludingTheTrialJaeger()
    {
        foreach (var kube in new[] { "v1.33.0", "v1.27.0" })
        {
            var rendered = Load(await HelmTemplate.RenderAsync("jaeger: {enabled: true}\n", kubeVersion: kube));
            var pods = rendered.OfType<V1Deployment>().ToList();
            Assert.Equal(2, pods.Count);
            foreach (var pod in pods)
            {
                Assert.Equal([], PodSecurity.RestrictedViolations(pod.Spec.Template.Spec));
            }
        }

        var uid = Deployment(await HelmTemplate.RenderAsync("sidecar: {runAsUser: null}\n")).Spec.Template.Spec.InitContainers[0].SecurityContext;
        Assert.Null(uid.RunAsUser);
        Assert.True(uid.RunAsNonRoot);
    }

    [Fact]
    public async Task Defaults_AppOnLoopbackProbedThroughMeshLite_NoExportWithoutACollector_ReleaseScopedNames()
    {
        var rendered = await HelmTemplate.RenderAsync();
        var spec = Deployment(rendered).Spec.Template.Spec;
        var sidecar = spec.InitContainers[0];
        var app = spec.Containers[0];
        Assert.Equal("meshlite:0.1.0", sidecar.Image);
        Assert.Contains("-listen=127.0.0.1:8080", app.Args);
        Assert.Equal("/app-health/app/readyz", app.ReadinessProbe.HttpGet.Path);
        Assert.Equal("15090", app.ReadinessProbe.HttpGet.Port.Value);
        Assert.Equal("""{"/app-health/app/readyz":{"httpGet":{"path":"/health","port":8080}}}""", Env(sidecar, "MeshLite__AppProbes"));
        Assert.Null(Env(sidecar, "OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.Contains("Spans are NOT exported", await HelmTemplate.RenderAsync(notes: true), StringComparison.Ordinal);

        // The Service reaches MeshLite's inbound port by name; the registry defaults to the release's namespace.
        var service = Load(rendered).OfType<V1Service>().Single();
        Assert.Equal("http-inbound", service.Spec.Ports[0].TargetPort.Value);
        Assert.Contains(sidecar.Ports, p => p.Name == "http-inbound" && p.ContainerPort == 15006);
        var config = Load(await HelmTemplate.RenderAsync("services: {payment: {endpoints: [\"http://payment:80\"]}}\n")).OfType<V1ConfigMap>().Single();
        using var json = JsonDocument.Parse(config.Data["meshlite.json"]);
        Assert.Equal("store", json.RootElement.GetProperty("MeshLite").GetProperty("Services").GetProperty("payment").GetProperty("Namespace").GetString());

        // The trial Jaeger is named after the release, and the sidecar exports to it; the cluster domain is a value.
        var trial = Load(await HelmTemplate.RenderAsync("jaeger: {enabled: true}\nclusterDomain: corp.example\n"));
        var jaeger = trial.OfType<V1Deployment>().Single(d => d.Metadata.Name == "shop-jaeger");
        Assert.Equal("shop", jaeger.Spec.Selector.MatchLabels["app.kubernetes.io/instance"]);
        Assert.Equal(["shop-jaeger-collector", "shop-jaeger-query"], trial.OfType<V1Service>().Where(s => s.Metadata.Name.Contains("jaeger", StringComparison.Ordinal)).Select(s => s.Metadata.Name).Order());
        var exporting = trial.OfType<V1Deployment>().Single(d => d.Metadata.Name == "shop").Spec.Template.Spec.InitContainers[0];
        Assert.Equal("http://shop-jaeger-collector.store.svc.corp.example:4317", Env(exporting, "OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.Equal("corp.example", Env(exporting, "MeshLite__ClusterDomain"));
        Assert.Contains("Spans go to http://shop-jaeger-collector.store.svc.corp.example:4317", await HelmTemplate.RenderAsync("jaeger: {enabled: true}\nclusterDomain: corp.example\n", notes: true), StringComparison.Ordinal);
    }

    [Fact]
    public async Task IstioResources_AreMountedFromAConfigMap_AndTheSidecarReadsThemAsTheLocalMeshDoes()
    {
        // The demo mesh's own Istio folder, as values: each file one key of the chart's ConfigMap.
        var folder = Path.Combine(Repository.Root, "config", "mesh", "istio");
        var files = Directory.GetFiles(folder, "*.yaml").Order(StringComparer.Ordinal).ToList();
        var values = new JsonObject
        {
            ["istio"] = new JsonObject
            {
                ["resources"] = new JsonObject(files.Select(f => KeyValuePair.Create(Path.GetFileName(f), (JsonNode?)File.ReadAllText(f)))),
                ["labels"] = new JsonObject { ["track"] = "stable" },
            },
        };
        var rendered = Load(await HelmTemplate.RenderAsync(values.ToJsonString()));
        var sidecar = rendered.OfType<V1Deployment>().Single().Spec.Template.Spec.InitContainers[0];
        var pod = rendered.OfType<V1Deployment>().Single().Spec.Template;

        Assert.Equal(["--config", "/etc/meshlite/meshlite.json", "--istio", "/etc/meshlite-istio"], sidecar.Args);
        Assert.Contains(sidecar.VolumeMounts, m => m.Name == "meshlite-istio" && m.MountPath == "/etc/meshlite-istio" && m.ReadOnlyProperty == true);
        Assert.Equal("shop-meshlite-istio", pod.Spec.Volumes.Single(v => v.Name == "meshlite-istio").ConfigMap.Name);
        Assert.Equal("istio-system", Env(sidecar, "MeshLite__Istio__RootNamespace"));
        Assert.Equal("stable", Env(sidecar, "MeshLite__Istio__Labels__track"));
        Assert.Contains("checksum/meshlite-istio", pod.Metadata.Annotations.Keys);

        // What the pod would see in /etc/meshlite-istio reads exactly as the folder does.
        var configMap = rendered.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "shop-meshlite-istio");
        var mounted = Directory.CreateTempSubdirectory("meshlite-mounted-").FullName;
        foreach (var (file, text) in configMap.Data)
        {
            File.WriteAllText(Path.Combine(mounted, file), text);
        }

        Assert.Equal(MeshLite.Istio.IstioResourceReader.Read(folder, "default").Summary(), MeshLite.Istio.IstioResourceReader.Read(mounted, "default").Summary());

        // An existing ConfigMap instead: mounted, and the chart renders none of its own.
        var existing = Load(await HelmTemplate.RenderAsync("istio: {existingConfigMap: team-istio}\n"));
        Assert.Equal("team-istio", existing.OfType<V1Deployment>().Single().Spec.Template.Spec.Volumes.Single(v => v.Name == "meshlite-istio").ConfigMap.Name);
        Assert.DoesNotContain(existing.OfType<V1ConfigMap>(), c => c.Metadata.Name == "shop-meshlite-istio");

        // Without either, the sidecar has no --istio.
        Assert.DoesNotContain("--istio", Deployment(await HelmTemplate.RenderAsync()).Spec.Template.Spec.InitContainers[0].Args);
        Assert.False(Validate(ValuesJson("istio: {resources: {notyaml.txt: x}, existingConfigMap: '', rootNamespace: istio-system}")).IsValid);
    }

    [Fact]
    public async Task FullAppContainerSpec_IsRendered()
    {
        var values = """
            app:
              command: [/bin/server]
              env: [{name: MODE, value: production}]
              envFrom: [{secretRef: {name: shop-secrets}}]
              livenessProbe: {tcpSocket: {port: http}, periodSeconds: 10}
              volumeMounts: [{name: data, mountPath: /data}]
              volumes: [{name: data, emptyDir: {}}]
              serviceAccountName: shop
            """;
        var spec = Deployment(await HelmTemplate.RenderAsync(values)).Spec.Template.Spec;
        var app = spec.Containers.Single(c => c.Name == "app");
        Assert.Equal(["/bin/server"], app.Command);
        Assert.Equal(["MODE", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"], app.Env.Select(e => e.Name));
        Assert.Equal("shop-secrets", app.EnvFrom[0].SecretRef.Name);
        Assert.Equal("/app-health/app/livez", app.LivenessProbe.HttpGet.Path);
        Assert.Equal(10, app.LivenessProbe.PeriodSeconds);
        Assert.Equal("/data", app.VolumeMounts[0].MountPath);
        Assert.Equal(["meshlite-config", "data"], spec.Volumes.Select(v => v.Name));
        Assert.Equal("shop", spec.ServiceAccountName);
        using var probes = JsonDocument.Parse(Env(spec.InitContainers[0], "MeshLite__AppProbes")!);
        Assert.Equal(8080, probes.RootElement.GetProperty("/app-health/app/livez").GetProperty("tcpSocket").GetProperty("port").GetInt32());
    }

    /// <summary>
    /// The chart's pod equals <c>meshlite inject</c>'s pod for the same app: the chart's Deployment without what the chart
    /// added, annotated for the chart's ConfigMap, injected, gives back the chart's pod spec.
    /// </summary>
    [Theory]
    [InlineData("v1.33.0", false)]
    [InlineData("v1.27.0", true)]
    public async Task ChartSidecar_EqualsInjectsSidecar(string kubeVersion, bool legacy)
    {
        var chart = Deployment(await HelmTemplate.RenderAsync(kubeVersion: kubeVersion));
        var plain = KubernetesYaml.Deserialize<V1Deployment>(KubernetesYaml.Serialize(chart));
        var pod = plain.Spec.Template;
        pod.Spec.InitContainers = null;
        pod.Spec.Containers = [.. pod.Spec.Containers.Where(c => c.Name != "meshlite")];
        var app = pod.Spec.Containers.Single();
        app.Env = [.. app.Env.Where(e => !e.Name.EndsWith("_PROXY", StringComparison.OrdinalIgnoreCase) && !e.Name.EndsWith("_proxy", StringComparison.Ordinal))];
        app.Env = app.Env.Count == 0 ? null : app.Env;
        app.ReadinessProbe.HttpGet = new V1HTTPGetAction { Path = "/health", Port = "http" };
        pod.Spec.Volumes = null;
        foreach (var added in new[] { "kubectl.kubernetes.io/default-container", "prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path" })
        {
            pod.Metadata.Annotations.Remove(added);
        }

        pod.Metadata.Annotations["sidecar.meshlite.io/configMap"] = "shop-meshlite";

        var injected = KubernetesYaml.Deserialize<V1Deployment>(new SidecarInjector(new InjectOptions { Legacy = legacy }).Inject(KubernetesYaml.Serialize(plain)).Output);
        var expected = chart.Spec.Template.Spec;
        var actual = injected.Spec.Template.Spec;
        Assert.Equal(KubernetesJson.Serialize(expected), KubernetesJson.Serialize(actual));
        foreach (var (key, value) in chart.Spec.Template.Metadata.Annotations.Where(a => !a.Key.StartsWith("checksum/", StringComparison.Ordinal)))
        {
            Assert.Equal(value, injected.Spec.Template.Metadata.Annotations[key]);
        }
    }

    [Fact]
    public async Task Helper_IsIncludedByAnotherChart_WithItsOwnValues()
    {
        var parent = Directory.CreateTempSubdirectory("meshlite-parent-chart-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(parent, "templates"));
            Directory.CreateDirectory(Path.Combine(parent, "charts"));
            Directory.CreateSymbolicLink(Path.Combine(parent, "charts", "meshlite"), _chart);
            await File.WriteAllTextAsync(Path.Combine(parent, "Chart.yaml"), "apiVersion: v2\nname: orders\nversion: 1.0.0\nappVersion: \"7.2\"\n");
            await File.WriteAllTextAsync(Path.Combine(parent, "values.yaml"), """
                global: {imageRegistry: registry.example}
                meshlite:
                  enabled: true
                  app: {enabled: false}
                  sidecar: {serviceName: orders, appPort: 9000, sampling: 10}
                """);
            await File.WriteAllTextAsync(Path.Combine(parent, "templates", "deployment.yaml"), ReadmeExample());

            var rendered = await HelmTemplate.RenderAsync(release: "orders", chart: parent);
            var orders = Deployment(rendered, "orders").Spec.Template.Spec;
            var sidecar = orders.InitContainers.Single();
            Assert.Equal("orders", Env(sidecar, "MeshLite__ServiceName"));
            Assert.Equal("9000", Env(sidecar, "MeshLite__Inbound__AppPort"));
            Assert.Equal("meshlite:0.1.0", sidecar.Image);
            Assert.Equal(SidecarInjector.ProxyUrl, Env(orders.Containers[0], "HTTP_PROXY"));
            Assert.Equal("/app-health/orders/readyz", orders.Containers[0].ReadinessProbe.HttpGet.Path);
            Assert.Equal("orders-meshlite", orders.Volumes.Single().ConfigMap.Name);

            // The subchart renders only its ConfigMap, from the parent's values.
            var config = Load(rendered).OfType<V1ConfigMap>().Single();
            Assert.Equal("orders-meshlite", config.Metadata.Name);
            Assert.Contains("\"Sampling\": 10", config.Data["meshlite.json"], StringComparison.Ordinal);
            Assert.Empty(Load(rendered).OfType<V1Service>());
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    /// <summary>The parent chart's template from the chart README's example, so that the documented example is the tested one.</summary>
    private static string ReadmeExample()
    {
        var readme = File.ReadAllText(Path.Combine(_chart, "README.md"));
        const string Start = "```yaml\n# templates/deployment.yaml of your chart";
        var start = readme.IndexOf(Start, StringComparison.Ordinal);
        Assert.True(start >= 0, "helm/meshlite/README.md has no example of a chart that includes the sidecar");
        var body = readme[(start + "```yaml\n".Length)..];
        return body[..body.IndexOf("```", StringComparison.Ordinal)];
    }
}
