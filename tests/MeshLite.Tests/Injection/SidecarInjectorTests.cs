using System.Text.Json;
using k8s;
using k8s.Models;
using MeshLite.Injection;
using MeshLite.Tools;
using YamlDotNet.RepresentationModel;

namespace MeshLite.Tests.Injection;

public class SidecarInjectorTests
{
    private static readonly InjectOptions _defaults = new();

    private static InjectionResult Inject(string yaml, InjectOptions? options = null) => new SidecarInjector(options ?? _defaults).Inject(yaml, "app.yaml");

    private static List<string> Documents(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d =>
        {
            using var writer = new StringWriter();
            new YamlStream(d).Save(writer, assignAnchors: false);
            return writer.ToString();
        }).ToList();
    }

    /// <summary>A document through the official client's typed models, as the API server reads it.</summary>
    private static T Typed<T>(string yaml, int index = 0) => KubernetesYaml.Deserialize<T>(Documents(yaml)[index]);

    private static string? Env(V1Container c, string name) => c.Env?.SingleOrDefault(e => e.Name == name)?.Value;

    [Fact]
    public void Deployment_GetsANativeSidecar_FirstAmongInitContainers_WithEveryPartInjectionAdds()
    {
        var result = Inject(Manifests.Deployment);
        Assert.Equal(1, result.Injected);
        var pod = Typed<V1Deployment>(result.Output).Spec.Template;
        var spec = pod.Spec;

        Assert.Equal(["meshlite", "migrate"], spec.InitContainers.Select(c => c.Name));
        Assert.Equal(["web", "worker"], spec.Containers.Select(c => c.Name));
        var sidecar = spec.InitContainers[0];
        Assert.Equal("Always", sidecar.RestartPolicy);
        Assert.Equal(SidecarTemplate.DefaultImage, sidecar.Image);
        Assert.Equal("meshlite:" + typeof(SidecarInjector).Assembly.GetName().Version!.ToString(3), sidecar.Image);

        // Starts the app only once ready; ready (and unready while draining) on the metrics port.
        Assert.Equal("/healthz/ready", sidecar.StartupProbe.HttpGet.Path);
        Assert.Equal("15090", sidecar.StartupProbe.HttpGet.Port.Value);
        Assert.Equal("/healthz/ready", sidecar.ReadinessProbe.HttpGet.Path);
        Assert.Equal("15090", sidecar.ReadinessProbe.HttpGet.Port.Value);
        Assert.Null(sidecar.LivenessProbe);
        Assert.Equal([15006, 15090], sidecar.Ports.Select(p => p.ContainerPort));

        // Identity from the downward API and the pod template.
        foreach (var (name, field) in new[] { ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"), ("INSTANCE_IP", "status.podIP"),
                     ("SERVICE_ACCOUNT", "spec.serviceAccountName"), ("HOST_IP", "status.hostIP"), ("NODE_NAME", "spec.nodeName") })
        {
            Assert.Equal(field, sidecar.Env.Single(e => e.Name == name).ValueFrom.FieldRef.FieldPath);
        }

        Assert.Equal("shop", Env(sidecar, "MeshLite__ServiceName"));
        Assert.Equal("shop", Env(sidecar, "MeshLite__Workload"));
        Assert.Equal("v2", Env(sidecar, "MeshLite__Version"));
        Assert.Equal("3000", Env(sidecar, "MeshLite__Inbound__AppPort"));
        Assert.Equal("cluster.local", Env(sidecar, "MeshLite__ClusterDomain"));
        Assert.Equal("00:00:00", Env(sidecar, "MeshLite__TerminationDrainDuration"));
        Assert.Null(Env(sidecar, "MeshLite__Tracing__Sampling"));
        Assert.Null(Env(sidecar, "OTEL_EXPORTER_OTLP_ENDPOINT"));

        // The restricted Pod Security level, and default resources.
        var sc = sidecar.SecurityContext;
        Assert.False(sc.AllowPrivilegeEscalation);
        Assert.False(sc.Privileged);
        Assert.True(sc.RunAsNonRoot);
        Assert.True(sc.ReadOnlyRootFilesystem);
        Assert.Equal(1337, sc.RunAsUser);
        Assert.Equal(1337, sc.RunAsGroup);
        Assert.Equal(["ALL"], sc.Capabilities.Drop);
        Assert.Equal("RuntimeDefault", sc.SeccompProfile.Type);
        Assert.Equal([], PodSecurity.RestrictedViolations(spec));
        Assert.Equal("100m", sidecar.Resources.Requests["cpu"].ToString());
        Assert.Equal("192Mi", sidecar.Resources.Limits["memory"].ToString());

        // Every app container calls out through the sidecar.
        foreach (var app in spec.Containers)
        {
            Assert.Equal(SidecarInjector.ProxyUrl, Env(app, "HTTP_PROXY"));
            Assert.Equal(SidecarInjector.ProxyUrl, Env(app, "http_proxy"));
            Assert.Equal(SidecarInjector.NoProxy, Env(app, "NO_PROXY"));
            Assert.Equal(SidecarInjector.NoProxy, Env(app, "no_proxy"));
        }

        Assert.Equal("true", Env(spec.Containers[0], "ENABLED"));
        Assert.Equal("web", pod.Metadata.Annotations["kubectl.kubernetes.io/default-container"]);
        Assert.Equal("15090", pod.Metadata.Annotations["prometheus.io/port"]);
        Assert.Equal("payments", pod.Metadata.Annotations["team"]);
        Assert.Equal(20, spec.TerminationGracePeriodSeconds);
    }

    [Fact]
    public void NoProxy_ListsLoopbackInEverySpellingAndTheApiServer_NeverInMeshNames()
    {
        var entries = SidecarInjector.NoProxy.Split(',');
        Assert.Equal(["localhost", "127.0.0.1", "::1", "[::1]", "$(KUBERNETES_SERVICE_HOST)"], entries);
        Assert.DoesNotContain(entries, e => e.Contains("svc", StringComparison.Ordinal) || e.Contains("cluster.local", StringComparison.Ordinal) || e == "*");
    }

    [Fact]
    public void AppProbes_MoveOntoTheMetricsPort_WithTheOriginalsResolvedForMeshLite()
    {
        var web = Typed<V1Deployment>(Inject(Manifests.Deployment).Output).Spec.Template.Spec;
        var app = web.Containers[0];
        Assert.Equal("/app-health/web/readyz", app.ReadinessProbe.HttpGet.Path);
        Assert.Equal("15090", app.ReadinessProbe.HttpGet.Port.Value);
        Assert.Equal(3, app.ReadinessProbe.PeriodSeconds);
        Assert.Null(app.ReadinessProbe.HttpGet.HttpHeaders);
        Assert.Equal("/app-health/web/livez", app.LivenessProbe.HttpGet.Path);
        Assert.Null(app.LivenessProbe.TcpSocket);
        Assert.Equal(["cat", "/tmp/started"], app.StartupProbe.Exec.Command);

        using var probes = JsonDocument.Parse(Env(web.InitContainers[0], "MeshLite__AppProbes")!);
        var ready = probes.RootElement.GetProperty("/app-health/web/readyz");
        Assert.Equal(3000, ready.GetProperty("httpGet").GetProperty("port").GetInt32());
        Assert.Equal("/ready", ready.GetProperty("httpGet").GetProperty("path").GetString());
        Assert.Equal("kubelet", ready.GetProperty("httpGet").GetProperty("httpHeaders")[0].GetProperty("value").GetString());
        Assert.Equal(2, ready.GetProperty("timeoutSeconds").GetInt32());
        Assert.Equal(3000, probes.RootElement.GetProperty("/app-health/web/livez").GetProperty("tcpSocket").GetProperty("port").GetInt32());
        Assert.False(probes.RootElement.TryGetProperty("/app-health/web/startupz", out _));

        var optedOut = Manifests.Deployment.Replace("team: \"payments\"", "sidecar.meshlite.io/rewriteAppHTTPProbers: \"false\"", StringComparison.Ordinal);
        var kept = Typed<V1Deployment>(Inject(optedOut).Output).Spec.Template.Spec;
        Assert.Equal("/ready", kept.Containers[0].ReadinessProbe.HttpGet.Path);
        Assert.Null(Env(kept.InitContainers[0], "MeshLite__AppProbes"));
    }

    [Fact]
    public void Legacy_IsAPlainContainer_FirstSoThatItsPostStartHoldsTheApp_AndDrainsWithinTheGracePeriod()
    {
        var spec = Typed<V1Deployment>(Inject(Manifests.Deployment, _defaults with { Legacy = true }).Output).Spec.Template.Spec;
        Assert.Equal(["migrate"], spec.InitContainers.Select(c => c.Name));
        Assert.Equal(["meshlite", "web", "worker"], spec.Containers.Select(c => c.Name));
        var sidecar = spec.Containers[0];
        Assert.Null(sidecar.RestartPolicy);
        Assert.Equal(["/app/MeshLite", "wait", "--timeout", "60s"], sidecar.Lifecycle.PostStart.Exec.Command);

        // Grace 20 s: MeshLite keeps its listeners 5 s for the app's last calls, leaving the rest for in-flight requests.
        Assert.Equal("00:00:05", Env(sidecar, "MeshLite__TerminationDrainDuration"));
        var shortGrace = Manifests.Deployment.Replace("terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds: 7", StringComparison.Ordinal);
        Assert.Equal("00:00:02", Env(Typed<V1Deployment>(Inject(shortGrace, _defaults with { Legacy = true }).Output).Spec.Template.Spec.Containers[0], "MeshLite__TerminationDrainDuration"));

        // Per workload, the annotation wins over the flag.
        var native = Manifests.Deployment.Replace("team: \"payments\"", "sidecar.meshlite.io/nativeSidecar: \"true\"", StringComparison.Ordinal);
        Assert.Equal("meshlite", Typed<V1Deployment>(Inject(native, _defaults with { Legacy = true }).Output).Spec.Template.Spec.InitContainers[0].Name);
    }

    [Fact]
    public void EveryWorkloadKind_IsInjected_OnItsPodTemplate()
    {
        var result = Inject(Manifests.Join(Manifests.Pod, Manifests.StatefulSet, Manifests.DaemonSet, Manifests.ReplicaSet, Manifests.Job, Manifests.CronJob, Manifests.List));
        Assert.Equal(7, result.Injected);

        var pod = Typed<V1Pod>(result.Output, 0);
        Assert.Equal("meshlite", pod.Spec.InitContainers[0].Name);
        Assert.Equal("debug-shell", Env(pod.Spec.InitContainers[0], "MeshLite__ServiceName"));
        Assert.Equal("debug", Env(pod.Spec.InitContainers[0], "MeshLite__Workload"));
        Assert.Contains(result.Warnings, w => w.Contains("Pod debug", StringComparison.Ordinal) && w.Contains("no container port", StringComparison.Ordinal));

        var set = Typed<V1StatefulSet>(result.Output, 1);
        Assert.Equal("7000", Env(set.Spec.Template.Spec.InitContainers[0], "MeshLite__Inbound__AppPort"));
        Assert.Equal("data", set.Spec.VolumeClaimTemplates[0].Metadata.Name);
        Assert.Equal("meshlite", Typed<V1DaemonSet>(result.Output, 2).Spec.Template.Spec.InitContainers[0].Name);
        Assert.Equal("frontend", Env(Typed<V1ReplicaSet>(result.Output, 3).Spec.Template.Spec.InitContainers[0], "MeshLite__ServiceName"));

        // A Job completes once its app is done: the native sidecar does not hold it.
        var job = Typed<V1Job>(result.Output, 4);
        Assert.Equal("Always", job.Spec.Template.Spec.InitContainers[0].RestartPolicy);
        Assert.Equal("Never", job.Spec.Template.Spec.RestartPolicy);
        Assert.Equal("8081", Env(job.Spec.Template.Spec.InitContainers[0], "MeshLite__Inbound__AppPort"));
        Assert.Equal(SidecarInjector.ProxyUrl, Env(job.Spec.Template.Spec.Containers[0], "HTTP_PROXY"));

        // CronJob: on the pod template inside the job template (not the job template's metadata).
        var cron = Typed<V1CronJob>(result.Output, 5);
        var cronPod = cron.Spec.JobTemplate.Spec.Template;
        Assert.Equal("meshlite", cronPod.Spec.InitContainers[0].Name);
        Assert.Contains("sidecar.meshlite.io/status", cronPod.Metadata.Annotations.Keys);
        Assert.Null(cron.Spec.JobTemplate.Metadata.Annotations);
        Assert.Equal("sync", cron.Spec.JobTemplate.Metadata.Labels["team"]);

        // A v1 List (the client has no model for it): each item as its own kind.
        var items = (YamlSequenceNode)((YamlMappingNode)Load(Documents(result.Output)[6]))["items"];
        Assert.Equal(2, items.Children.Count);
        var cart = KubernetesYaml.Deserialize<V1Deployment>(Emit(items[0]));
        Assert.Equal("meshlite", cart.Spec.Template.Spec.InitContainers[0].Name);
        Assert.Equal("EUR", KubernetesYaml.Deserialize<V1ConfigMap>(Emit(items[1])).Data["currency"]);
    }

    [Fact]
    public void OtherDocuments_PassThroughByteForByte_AndFieldsMeshLiteDoesNotKnowSurvive()
    {
        var input = Manifests.Join(Manifests.Service, Manifests.Deployment, Manifests.CustomResource, Manifests.OptedOut);
        var result = Inject(input);
        Assert.Equal(1, result.Injected);

        // Comments, flow style and spacing of the documents MeshLite does not inject, as written.
        Assert.StartsWith(Manifests.Service + "\n---\n", result.Output, StringComparison.Ordinal);
        Assert.Contains("\n---\n" + Manifests.CustomResource + "\n---\n" + Manifests.OptedOut + "\n", result.Output, StringComparison.Ordinal);
        Assert.Contains(result.Warnings, w => w.Contains("Skipping injection", StringComparison.Ordinal) && w.Contains("legacy-batch", StringComparison.Ordinal));

        // The injected document keeps every field, known to Kubernetes or not, with its value.
        var before = (YamlMappingNode)Load(Manifests.Deployment);
        var after = (YamlMappingNode)Load(Documents(result.Output)[1]);
        foreach (var (path, value) in Leaves(before))
        {
            Assert.True(Leaves(after).Any(l => l.Path == path && l.Value == value) || path.Contains("Probe.", StringComparison.Ordinal), $"{path} = {value} did not survive");
        }

        Assert.Contains(Leaves(after), l => l.Path == "spec.template.spec.containers[web].futureField.kept" && l.Value == "yes");
    }

    [Fact]
    public void InjectingTwice_EqualsInjectingOnce()
    {
        foreach (var options in new[] { _defaults, _defaults with { Legacy = true }, _defaults with { OtlpEndpoint = "http://collector:4317", Sampling = 10 } })
        {
            var input = Manifests.Join(Manifests.Service, Manifests.Deployment, Manifests.Job, Manifests.CronJob, Manifests.List, Manifests.CustomResource);
            var once = Inject(input, options).Output;
            var twice = Inject(once, options).Output;
            Assert.Equal(once, twice);
            Assert.Single(Typed<V1Deployment>(once, 1).Spec.Template.Spec.AllContainers(), c => c.Name == "meshlite");
        }
    }

    [Fact]
    public void Annotations_SetSamplingServiceResourcesConfigMapAndDrain_PerWorkload()
    {
        var annotated = Manifests.Deployment.Replace("team: \"payments\"", """
            sidecar.meshlite.io/sampling: "25"
                    sidecar.meshlite.io/service: storefront
                    sidecar.meshlite.io/appPort: "9100"
                    sidecar.meshlite.io/servicePort: "8080"
                    sidecar.meshlite.io/proxyCPU: 50m
                    sidecar.meshlite.io/proxyMemoryLimit: 300Mi
                    sidecar.meshlite.io/configMap: shop-meshlite
                    sidecar.meshlite.io/drainDuration: 3s
                    sidecar.meshlite.io/httpProxy: "false"
            """, StringComparison.Ordinal);
        var spec = Typed<V1Deployment>(Inject(annotated, _defaults with { Legacy = true, OtlpEndpoint = "http://jaeger-collector.tracing:4317" }).Output).Spec.Template.Spec;
        var sidecar = spec.Containers[0];
        Assert.Equal("25", Env(sidecar, "MeshLite__Tracing__Sampling"));
        Assert.Equal("storefront", Env(sidecar, "MeshLite__ServiceName"));
        Assert.Equal("9100", Env(sidecar, "MeshLite__Inbound__AppPort"));
        Assert.Equal("8080", Env(sidecar, "MeshLite__ServicePort"));
        Assert.Equal("00:00:03", Env(sidecar, "MeshLite__TerminationDrainDuration"));
        Assert.Equal("http://jaeger-collector.tracing:4317", Env(sidecar, "OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.Equal("grpc", Env(sidecar, "OTEL_EXPORTER_OTLP_PROTOCOL"));
        Assert.Equal("50m", sidecar.Resources.Requests["cpu"].ToString());
        Assert.Equal("300Mi", sidecar.Resources.Limits["memory"].ToString());
        Assert.False(sidecar.Resources.Requests.ContainsKey("memory"));
        Assert.Equal(["--config", "/etc/meshlite/meshlite.json"], sidecar.Args);
        Assert.Equal("/etc/meshlite", sidecar.VolumeMounts.Single().MountPath);
        Assert.Equal("shop-meshlite", spec.Volumes.Single(v => v.Name == "meshlite-config").ConfigMap.Name);
        Assert.Null(Env(spec.Containers[1], "HTTP_PROXY"));
    }

    [Theory]
    [InlineData("sidecar.meshlite.io/sampling: \"150\"", "sidecar.meshlite.io/sampling '150'")]
    [InlineData("sidecar.meshlite.io/appPort: \"http\"", "sidecar.meshlite.io/appPort 'http' is not a port number")]
    [InlineData("sidecar.meshlite.io/drainDuration: 30s", "must be shorter than terminationGracePeriodSeconds (20)")]
    [InlineData("sidecar.meshlite.io/drainDuration: soon", "is not a duration")]
    [InlineData("sidecar.meshlite.io/nativeSidecar: \"maybe\"", "must be \"true\" or \"false\"")]
    [InlineData("sidecar.meshlite.io/service: Shop_API", "service name 'Shop_API' is not a DNS label")]
    public void BadAnnotations_AreRefused_NamingTheWorkloadAndTheAnnotation(string annotation, string expected)
    {
        var bad = Manifests.Deployment.Replace("team: \"payments\"", annotation, StringComparison.Ordinal);
        var ex = Assert.Throws<InjectionException>(() => Inject(bad));
        Assert.Contains("app.yaml: document 1 (Deployment shop)", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInput_IsRefusedWithItsPosition()
    {
        var ex = Assert.Throws<InjectionException>(() => Inject("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   labels: [x\n"));
        Assert.Matches(@"^app\.yaml:\d+:\d+: invalid YAML", ex.Message);

        var reserved = Manifests.Deployment.Replace("containerPort: 9100", "containerPort: 15001", StringComparison.Ordinal);
        Assert.Contains("uses port 15001, which MeshLite listens on", Assert.Throws<InjectionException>(() => Inject(reserved)).Message, StringComparison.Ordinal);

        var namedPort = Manifests.Deployment.Replace("port: http,", "port: web,", StringComparison.Ordinal);
        Assert.Contains("readinessProbe: port 'web'", Assert.Throws<InjectionException>(() => Inject(namedPort)).Message, StringComparison.Ordinal);

        var taken = Manifests.Deployment.Replace("name: worker", "name: meshlite", StringComparison.Ordinal);
        Assert.Contains("already named 'meshlite'", Assert.Throws<InjectionException>(() => Inject(taken)).Message, StringComparison.Ordinal);

        Assert.Equal(0, Inject("").Injected);
    }

    [Fact]
    public void ExistingProxyVariables_AndPrometheusAnnotations_AreKept_WithAWarning()
    {
        var own = Manifests.Deployment
            .Replace("- name: ENABLED", "- name: NO_PROXY\n              value: internal.example\n            - name: ENABLED", StringComparison.Ordinal)
            .Replace("team: \"payments\"", "prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"9100\"", StringComparison.Ordinal);
        var result = Inject(own);
        var pod = Typed<V1Deployment>(result.Output).Spec.Template;
        Assert.Equal("internal.example", Env(pod.Spec.Containers[0], "NO_PROXY"));
        Assert.Equal(SidecarInjector.NoProxy, Env(pod.Spec.Containers[0], "no_proxy"));
        Assert.Equal("9100", pod.Metadata.Annotations["prometheus.io/port"]);
        Assert.Contains(result.Warnings, w => w.Contains("sets NO_PROXY itself", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("prometheus.io", StringComparison.Ordinal));
        Assert.Equal(Inject(result.Output).Output, result.Output);
    }

    [Fact]
    public void Options_ImageExporterDomainAndUid_Apply()
    {
        var options = _defaults with { Image = "registry.example/meshlite:9.9", ImagePullPolicy = "Always", ClusterDomain = "corp.example", RunAsUser = null };
        var sidecar = Typed<V1Deployment>(Inject(Manifests.Deployment, options).Output).Spec.Template.Spec.InitContainers[0];
        Assert.Equal("registry.example/meshlite:9.9", sidecar.Image);
        Assert.Equal("Always", sidecar.ImagePullPolicy);
        Assert.Equal("corp.example", Env(sidecar, "MeshLite__ClusterDomain"));
        Assert.Null(sidecar.SecurityContext.RunAsUser);
        Assert.True(sidecar.SecurityContext.RunAsNonRoot);
    }

    [Fact]
    public async Task Command_ReadsStdin_WritesYamlToStdout_AndNotesToStderr()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await InjectCommand.RunAsync(["-f", "-", "--legacy", "--sampling", "5"], new StringReader(Manifests.Join(Manifests.Deployment, Manifests.OptedOut)), stdout, stderr);
        Assert.Equal(0, code);
        Assert.Equal("5", Env(Typed<V1Deployment>(stdout.ToString()).Spec.Template.Spec.Containers[0], "MeshLite__Tracing__Sampling"));
        Assert.Contains("Skipping injection", stderr.ToString(), StringComparison.Ordinal);

        stderr = new StringWriter();
        Assert.Equal(1, await InjectCommand.RunAsync(["-f", "-"], new StringReader("kind: [\n"), new StringWriter(), stderr));
        Assert.StartsWith("meshlite inject: <stdin>:", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, await InjectCommand.RunAsync(["-f", "/nonexistent/app.yaml"], new StringReader(""), new StringWriter(), stderr = new StringWriter()));
        Assert.Contains("cannot read '/nonexistent/app.yaml'", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await InjectCommand.RunAsync([], new StringReader(""), new StringWriter(), stderr = new StringWriter()));
        Assert.Contains("--filename", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("meshlite inject --help", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await InjectCommand.RunAsync(["-f", "-", "--otlp-endpoint", "collector:4317"], new StringReader(""), new StringWriter(), stderr = new StringWriter()));
        Assert.Contains("--otlp-endpoint 'collector:4317' is not an http(s) URL", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void MutatedManifests_AreInjectedOrRefusedAsInvalid_NeverAnotherException()
    {
        var random = new Random(16);
        string[] fragments = ["{", "}", "[", "]", ": ", "- ", "\n", "&a ", "*a", "? ", "---\n", "\"", "'", "#", "\t"];
        var refused = 0;
        for (var i = 0; i < 1000; i++)
        {
            var chars = Manifests.Deployment.ToList();
            for (var edits = random.Next(1, 6); edits > 0; edits--)
            {
                var at = random.Next(chars.Count + 1);
                if (random.Next(2) == 0 && chars.Count > 0)
                {
                    chars.RemoveAt(Math.Min(at, chars.Count - 1));
                }
                else
                {
                    chars.InsertRange(at, fragments[random.Next(fragments.Length)]);
                }
            }

            try
            {
                new SidecarInjector(new InjectOptions()).Inject(new string([.. chars]), "app.yaml");
            }
            catch (InjectionException ex)
            {
                refused++;
                Assert.StartsWith("app.yaml", ex.Message, StringComparison.Ordinal);
            }
        }

        Assert.InRange(refused, 100, 1000);
    }

    private static string Emit(YamlNode node)
    {
        using var writer = new StringWriter();
        new YamlStream(new YamlDocument(node)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private static YamlNode Load(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents[0].RootNode;
    }

    private static IEnumerable<(string Path, string? Value)> Leaves(YamlNode node, string path = "")
    {
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                {
                    foreach (var leaf in Leaves(value, path.Length == 0 ? key.ToString() : $"{path}.{key}"))
                    {
                        yield return leaf;
                    }
                }

                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    var item = sequence.Children[i];
                    var label = item is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode("name"), out var n) ? n.ToString() : i.ToString();
                    foreach (var leaf in Leaves(item, $"{path}[{label}]"))
                    {
                        yield return leaf;
                    }
                }

                break;
            case YamlScalarNode scalar:
                yield return (path, scalar.Value);
                break;
        }
    }
}

internal static class PodSpecExtensions
{
    public static IEnumerable<V1Container> AllContainers(this V1PodSpec spec) => (spec.InitContainers ?? []).Concat(spec.Containers);
}
