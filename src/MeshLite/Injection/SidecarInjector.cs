using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MeshLite.Configuration;
using MeshLite.Yaml;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;
using static MeshLite.Yaml.YamlNodes;
using A = MeshLite.Injection.InjectionAnnotations;

namespace MeshLite.Injection;

/// <summary>
/// <c>meshlite inject</c>, as <c>istioctl kube-inject</c>: adds MeshLite to every pod template of a multi-document YAML
/// stream — Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, and those in a v1
/// List — by editing YamlDotNet's node tree, so that every field it does not touch survives. Documents it does not
/// inject are copied byte for byte. A status annotation records what was added; injecting again first removes it.
/// </summary>
internal sealed class SidecarInjector(InjectOptions options)
{
    public const string ProxyUrl = "http://127.0.0.1:15001";

    /// <summary>
    /// Loopback in every spelling (.NET and Python send it through a proxy unless listed; .NET compares the bracketed
    /// host) and the API server, which in-cluster clients dial by IP. In-mesh names (<c>.svc</c>,
    /// <c>.cluster.local</c>) stay out: the sidecar exists to see those calls.
    /// </summary>
    public const string NoProxy = "localhost,127.0.0.1,::1,[::1],$(KUBERNETES_SERVICE_HOST)";

    private const int DefaultGracePeriodSeconds = 30;
    private const int DefaultAppPort = 8080;
    private static readonly TimeSpan _legacyDrain = MeshLiteOptions.DefaultTerminationDrainDuration;
    private static readonly int[] _reservedPorts = [15000, SidecarTemplate.OutboundPort, SidecarTemplate.InboundPort, SidecarTemplate.MetricsPort];
    private static readonly (string Field, string Suffix)[] _probes = [("readinessProbe", "readyz"), ("livenessProbe", "livez"), ("startupProbe", "startupz")];
    private static readonly string[] _proxyVariables = ["HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];
    private static readonly string[] _prometheusAnnotations = ["prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"];

    private static readonly Dictionary<string, string[]> _podTemplatePaths = new(StringComparer.Ordinal)
    {
        ["v1/Pod"] = [],
        ["v1/ReplicationController"] = ["spec", "template"],
        ["apps/v1/Deployment"] = ["spec", "template"],
        ["apps/v1/StatefulSet"] = ["spec", "template"],
        ["apps/v1/DaemonSet"] = ["spec", "template"],
        ["apps/v1/ReplicaSet"] = ["spec", "template"],
        ["batch/v1/Job"] = ["spec", "template"],
        ["batch/v1/CronJob"] = ["spec", "jobTemplate", "spec", "template"],
    };

    private readonly List<string> _warnings = [];
    private int _injected;

    public InjectionResult Inject(string yaml, string source = "-")
    {
        _warnings.Clear();
        _injected = 0;
        var marks = new DocumentMarks(new Parser(new StringReader(yaml)));
        var stream = new YamlStream();
        if (YamlLoading.TryLoad(stream, marks) is { } invalid)
        {
            var at = invalid.Start is { } start ? $":{start.Line}:{start.Column}" : "";
            throw new InjectionException($"{source}{at}: invalid YAML: {invalid.Message}");
        }

        var output = new StringBuilder();
        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var document = stream.Documents[i];
            var (start, end, isExplicit) = marks.Documents[i];
            var injected = document.RootNode is YamlMappingNode root && InjectResource(root, $"{source}: document {i + 1}");
            if (injected)
            {
                if (i > 0)
                {
                    output.Append("---\n");
                }

                output.Append(Emit(document));
            }
            else
            {
                if (i > 0 && !isExplicit)
                {
                    output.Append("---\n");
                }

                output.Append(yaml.AsSpan(start, end - start).TrimEnd());
                output.Append('\n');
            }
        }

        return new InjectionResult(output.ToString(), [.. _warnings], _injected);
    }

    private bool InjectResource(YamlMappingNode resource, string where)
    {
        var type = $"{resource.GetString("apiVersion")}/{resource.GetString("kind")}";
        var name = resource.GetMap("metadata")?.GetString("name") ?? resource.GetMap("metadata")?.GetString("generateName")?.TrimEnd('-') ?? "";
        where = $"{where} ({resource.GetString("kind")} {name})";
        if (type == "v1/List")
        {
            var any = false;
            foreach (var item in resource.GetSequence("items")?.Children.OfType<YamlMappingNode>() ?? [])
            {
                any |= InjectResource(item, where);
            }

            return any;
        }

        if (!_podTemplatePaths.TryGetValue(type, out var path))
        {
            return false;
        }

        var template = resource;
        foreach (var step in path)
        {
            template = template.GetMap(step) ?? throw new InjectionException($"{where}: {string.Join('.', path)} is missing.");
        }

        return InjectPod(template, name, where);
    }

    private bool InjectPod(YamlMappingNode template, string workload, string where)
    {
        var metadata = template.GetOrAddMap("metadata");
        var spec = template.GetMap("spec") ?? throw new InjectionException($"{where}: the pod template has no spec.");
        var labels = metadata.GetMap("labels");
        var annotations = metadata.GetMap("annotations");
        string? Annotation(string key) => annotations?.GetString(key);

        var optOut = labels?.GetString(A.Inject) is "true" or "false" ? labels.GetString(A.Inject) : Annotation(A.Inject);
        if (optOut == "false")
        {
            _warnings.Add($"Skipping injection for {where}: {A.Inject} is \"false\".");
            return false;
        }

        if (spec.GetString("hostNetwork") == "true")
        {
            _warnings.Add($"Skipping injection for {where}: hostNetwork pods share the node's ports.");
            return false;
        }

        var containers = spec.GetSequence("containers") ?? throw new InjectionException($"{where}: spec.containers is missing.");
        if (Annotation(A.Status) is { } previous)
        {
            Strip(spec, metadata, previous, where);
        }

        var apps = containers.Children.OfType<YamlMappingNode>().ToList();
        if (apps.Count == 0)
        {
            throw new InjectionException($"{where}: spec.containers is empty.");
        }

        foreach (var c in apps.Concat(spec.GetSequence("initContainers")?.Children.OfType<YamlMappingNode>() ?? []))
        {
            if (c.GetString("name") == SidecarTemplate.ContainerName)
            {
                throw new InjectionException($"{where}: a container is already named '{SidecarTemplate.ContainerName}' and was not added by meshlite inject.");
            }
        }

        var status = new JsonObject();
        var appPort = ResolveAppPort(apps, Annotation(A.AppPort), where);
        var (appProbes, originals) = Annotation(A.RewriteAppProbers) == "false" ? (null, null) : RewriteProbes(apps, where);
        var grace = spec.GetString("terminationGracePeriodSeconds") is { } g
            ? int.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? seconds : throw new InjectionException($"{where}: terminationGracePeriodSeconds '{g}' is not a number.")
            : DefaultGracePeriodSeconds;
        var native = Annotation(A.NativeSidecar) switch
        {
            "true" => true,
            "false" => false,
            null => !options.Legacy,
            var v => throw new InjectionException($"{where}: {A.NativeSidecar} '{v}' must be \"true\" or \"false\"."),
        };

        var sidecarSpec = new SidecarSpec
        {
            ServiceName = ServiceName(Annotation(A.Service) ?? labels?.GetString("app.kubernetes.io/name") ?? labels?.GetString("app") ?? workload, where),
            Workload = workload,
            Version = labels?.GetString("app.kubernetes.io/version") ?? labels?.GetString("version"),
            ServicePort = Annotation(A.ServicePort) is { } sp ? Port(sp, A.ServicePort, where) : 80,
            AppPort = appPort,
            ClusterDomain = options.ClusterDomain,
            Image = options.Image,
            ImagePullPolicy = options.ImagePullPolicy,
            Native = native,
            Sampling = Annotation(A.Sampling) is { } s ? Percent(s, where) : options.Sampling,
            DrainDuration = Drain(Annotation(A.DrainDuration), native, grace, where),
            AppProbes = appProbes?.ToJsonString(),
            OtlpEndpoint = options.OtlpEndpoint,
            OtlpProtocol = options.OtlpProtocol,
            ConfigMap = Annotation(A.ConfigMap),
            RunAsUser = options.RunAsUser,
            Resources = Resources(Annotation(A.ProxyCpu), Annotation(A.ProxyMemory), Annotation(A.ProxyCpuLimit), Annotation(A.ProxyMemoryLimit)),
        };
        var sidecar = SidecarTemplate.Render(sidecarSpec);

        if (native)
        {
            var init = spec.GetSequence("initContainers");
            if (init is null)
            {
                init = [];
                spec.InsertBefore("containers", "initContainers", init);
            }

            // First, so that the app's own init containers are in the mesh too.
            init.Children.Insert(0, sidecar);
            status["initContainers"] = new JsonArray(SidecarTemplate.ContainerName);
        }
        else
        {
            // First, so that its postStart hook holds the app until MeshLite is ready.
            containers.Children.Insert(0, sidecar);
            status["containers"] = new JsonArray(SidecarTemplate.ContainerName);
        }

        if (sidecarSpec.ConfigMap is { } configMap)
        {
            var volumes = spec.GetSequence("volumes");
            if (volumes is null)
            {
                spec.Set("volumes", volumes = []);
            }

            if (volumes.Children.OfType<YamlMappingNode>().Any(v => v.GetString("name") == SidecarTemplate.ConfigVolume))
            {
                throw new InjectionException($"{where}: a volume is already named '{SidecarTemplate.ConfigVolume}'.");
            }

            volumes.Add(SidecarTemplate.ConfigVolumeFor(configMap));
            status["volumes"] = new JsonArray(SidecarTemplate.ConfigVolume);
        }

        if (Annotation(A.HttpProxy) != "false")
        {
            status["env"] = AddProxyEnvironment(apps, where);
        }

        if (originals is not null)
        {
            status["probes"] = originals;
        }

        annotations = metadata.GetOrAddMap("annotations");
        var added = new JsonArray();
        if (annotations.Get(A.DefaultContainer) is null)
        {
            // kubectl exec and logs pick the first container; in legacy mode that is now MeshLite.
            annotations.Set(A.DefaultContainer, String(apps[0].GetString("name")!));
            added.Add((JsonNode?)JsonValue.Create(A.DefaultContainer));
        }

        if (_prometheusAnnotations.Any(a => annotations.Get(a) is not null))
        {
            _warnings.Add($"{where}: keeps the app's prometheus.io annotations; MeshLite's metrics are on :{SidecarTemplate.MetricsPort}/stats/prometheus.");
        }
        else
        {
            annotations.Set("prometheus.io/scrape", String("true"));
            annotations.Set("prometheus.io/port", String(SidecarTemplate.MetricsPort.ToString(CultureInfo.InvariantCulture)));
            annotations.Set("prometheus.io/path", String("/stats/prometheus"));
            foreach (var a in _prometheusAnnotations)
            {
                added.Add((JsonNode?)JsonValue.Create(a));
            }
        }

        status["annotations"] = added;
        annotations.Set(A.Status, String(status.ToJsonString()));
        _injected++;
        return true;
    }

    /// <summary>Removes what an earlier injection recorded, so that injecting again gives the same result.</summary>
    private static void Strip(YamlMappingNode spec, YamlMappingNode metadata, string statusJson, string where)
    {
        JsonObject status;
        try
        {
            status = JsonNode.Parse(statusJson) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException ex)
        {
            throw new InjectionException($"{where}: {A.Status} is not the JSON meshlite inject writes ({ex.Message}); remove it and the sidecar by hand.");
        }

        void RemoveNamed(string key, string field)
        {
            var names = status[field]?.AsArray().Select(n => n!.GetValue<string>()).ToHashSet() ?? [];
            if (spec.GetSequence(key) is { } sequence)
            {
                foreach (var item in sequence.Children.OfType<YamlMappingNode>().Where(i => names.Contains(i.GetString("name") ?? "")).ToList())
                {
                    sequence.Children.Remove(item);
                }
            }
        }

        RemoveNamed("initContainers", "initContainers");
        RemoveNamed("containers", "containers");
        RemoveNamed("volumes", "volumes");

        var containers = spec.GetSequence("containers")?.Children.OfType<YamlMappingNode>().ToDictionary(c => c.GetString("name") ?? "", c => c) ?? [];
        foreach (var (container, names) in status["env"]?.AsObject() ?? [])
        {
            if (containers.TryGetValue(container, out var c) && c.GetSequence("env") is { } env)
            {
                var remove = names!.AsArray().Select(n => n!.GetValue<string>()).ToHashSet();
                foreach (var item in env.Children.OfType<YamlMappingNode>().Where(e => remove.Contains(e.GetString("name") ?? "")).ToList())
                {
                    env.Children.Remove(item);
                }
            }
        }

        foreach (var (key, original) in status["probes"]?.AsObject() ?? [])
        {
            var (container, field) = (key[..key.LastIndexOf('/')], key[(key.LastIndexOf('/') + 1)..]);
            if (containers.TryGetValue(container, out var c) && c.GetMap(field) is { } probe && probe.Get("httpGet") is not null)
            {
                var (handler, value) = original!.AsObject().Single();
                probe.Replace("httpGet", handler, FromJson(value));
            }
        }

        var annotations = metadata.GetMap("annotations")!;
        foreach (var name in status["annotations"]?.AsArray() ?? [])
        {
            annotations.Remove(name!.GetValue<string>());
        }

        annotations.Remove(A.Status);
    }

    private int ResolveAppPort(List<YamlMappingNode> apps, string? annotation, string where)
    {
        foreach (var app in apps)
        {
            foreach (var port in app.GetSequence("ports")?.Children.OfType<YamlMappingNode>() ?? [])
            {
                if (int.TryParse(port.GetString("containerPort"), CultureInfo.InvariantCulture, out var number) && _reservedPorts.Contains(number))
                {
                    throw new InjectionException($"{where}: container {app.GetString("name")} uses port {number}, which MeshLite listens on.");
                }
            }
        }

        if (annotation is not null)
        {
            return Port(annotation, A.AppPort, where);
        }

        var first = apps.SelectMany(a => a.GetSequence("ports")?.Children.OfType<YamlMappingNode>() ?? [])
            .FirstOrDefault(p => p.GetString("protocol") is null or "TCP" && p.GetString("containerPort") is not null);
        if (first is not null)
        {
            return Port(first.GetString("containerPort")!, "containerPort", where);
        }

        _warnings.Add($"{where}: no container port; inbound traffic goes to 127.0.0.1:{DefaultAppPort} (set {A.AppPort}).");
        return DefaultAppPort;
    }

    /// <summary>
    /// Moves each HTTP and TCP probe of the app onto MeshLite's metrics port, as Istio's injector moves them onto 15020:
    /// an app bound to 127.0.0.1 (so that only its sidecar reaches it) does not answer the kubelet on the pod's IP.
    /// </summary>
    private static (JsonObject? Resolved, JsonObject? Originals) RewriteProbes(List<YamlMappingNode> apps, string where)
    {
        var resolved = new JsonObject();
        var originals = new JsonObject();
        foreach (var app in apps)
        {
            var name = app.GetString("name") ?? throw new InjectionException($"{where}: a container has no name.");
            foreach (var (field, suffix) in _probes)
            {
                if (app.GetMap(field) is not { } probe)
                {
                    continue;
                }

                var handlerKey = probe.Get("httpGet") is YamlMappingNode ? "httpGet" : probe.Get("tcpSocket") is YamlMappingNode ? "tcpSocket" : null;
                if (handlerKey is null)
                {
                    continue;
                }

                var handler = probe.GetMap(handlerKey)!;
                var port = ProbePort(app, handler.GetString("port"), $"{where}: container {name} {field}");
                // Keys in sorted order, as the chart's toJson writes them, so that both give the same text.
                var target = new JsonObject();
                if (handlerKey == "httpGet")
                {
                    if (handler.Get("httpHeaders") is YamlSequenceNode headers)
                    {
                        target["httpHeaders"] = ToJson(headers);
                    }

                    target["path"] = handler.GetString("path") ?? "/";
                }

                target["port"] = port;
                if (handlerKey == "httpGet" && handler.GetString("scheme") is { } scheme)
                {
                    target["scheme"] = scheme;
                }

                var entry = new JsonObject { [handlerKey] = target };
                if (probe.GetString("timeoutSeconds") is { } timeout && int.TryParse(timeout, CultureInfo.InvariantCulture, out var t))
                {
                    entry["timeoutSeconds"] = t;
                }

                var path = $"{AppProbes.PathPrefix}{name}/{suffix}";
                resolved[path] = entry;
                originals[$"{name}/{field}"] = new JsonObject { [handlerKey] = ToJson(handler) };
                probe.Replace(handlerKey, "httpGet", Map(("path", String(path)), ("port", Number(SidecarTemplate.MetricsPort))));
            }
        }

        var sorted = new JsonObject();
        foreach (var (path, entry) in resolved.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
        {
            resolved.Remove(path);
            sorted[path] = entry;
        }

        return sorted.Count == 0 ? (null, null) : (sorted, originals);
    }

    private static int ProbePort(YamlMappingNode app, string? port, string where)
    {
        if (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is > 0 and <= 65535)
        {
            return number;
        }

        var named = app.GetSequence("ports")?.Children.OfType<YamlMappingNode>().FirstOrDefault(p => p.GetString("name") == port);
        return named?.GetString("containerPort") is { } containerPort && int.TryParse(containerPort, CultureInfo.InvariantCulture, out number)
            ? number
            : throw new InjectionException($"{where}: port '{port}' is neither a number nor the name of one of the container's ports.");
    }

    private JsonObject AddProxyEnvironment(List<YamlMappingNode> apps, string where)
    {
        var added = new JsonObject();
        foreach (var app in apps)
        {
            var env = app.GetSequence("env");
            if (env is null)
            {
                app.Set("env", env = []);
            }

            var existing = env.Children.OfType<YamlMappingNode>().Select(e => e.GetString("name")).ToHashSet();
            var names = new JsonArray();
            foreach (var variable in _proxyVariables)
            {
                if (existing.Contains(variable))
                {
                    _warnings.Add($"{where}: container {app.GetString("name")} sets {variable} itself; kept.");
                    continue;
                }

                env.Add(EnvVar(variable, variable.StartsWith("no", StringComparison.OrdinalIgnoreCase) ? NoProxy : ProxyUrl));
                names.Add((JsonNode?)JsonValue.Create(variable));
            }

            added[app.GetString("name")!] = names;
        }

        return added;
    }

    private static string ServiceName(string name, string where) =>
        MeshLiteOptionsValidator.IsDnsLabel(name)
            ? name
            : throw new InjectionException($"{where}: service name '{name}' is not a DNS label; set {A.Service}.");

    private static int Port(string value, string key, string where) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new InjectionException($"{where}: {key} '{value}' is not a port number.");

    private static double Percent(string value, string where) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) && percent is >= 0 and <= 100
            ? percent
            : throw new InjectionException($"{where}: {A.Sampling} '{value}' must be a percentage between 0 and 100.");

    /// <summary>
    /// A native sidecar is stopped only after the app has exited, so nothing is left to drain; a plain one is stopped
    /// with the app and keeps its listeners for the app's last calls, as long as the pod's grace period leaves room.
    /// </summary>
    private static TimeSpan Drain(string? annotation, bool native, int graceSeconds, string where)
    {
        var grace = TimeSpan.FromSeconds(graceSeconds);
        if (annotation is null)
        {
            return native ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Clamp(graceSeconds - 5, 0, _legacyDrain.TotalSeconds));
        }

        if (!DurationText.TryParse(annotation, bareSeconds: false, out var drain))
        {
            throw new InjectionException($"{where}: {A.DrainDuration} '{annotation}' is not a duration such as 5s.");
        }

        return drain < grace
            ? drain
            : throw new InjectionException($"{where}: {A.DrainDuration} '{annotation}' must be shorter than terminationGracePeriodSeconds ({graceSeconds}), or the kubelet kills MeshLite before its spans are flushed.");
    }

    private static YamlMappingNode? Resources(string? cpu, string? memory, string? cpuLimit, string? memoryLimit)
    {
        if (cpu is null && memory is null && cpuLimit is null && memoryLimit is null)
        {
            return null;
        }

        YamlMappingNode Block(string? c, string? m)
        {
            var block = new YamlMappingNode();
            if (c is not null)
            {
                block.Set("cpu", String(c));
            }

            if (m is not null)
            {
                block.Set("memory", String(m));
            }

            return block;
        }

        var resources = new YamlMappingNode();
        if (cpu is not null || memory is not null)
        {
            resources.Set("requests", Block(cpu, memory));
        }

        if (cpuLimit is not null || memoryLimit is not null)
        {
            resources.Set("limits", Block(cpuLimit, memoryLimit));
        }

        return resources;
    }

    private static string Emit(YamlDocument document)
    {
        using var writer = new StringWriter();
        new YamlStream(document).Save(writer, assignAnchors: false);
        var text = writer.ToString();
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    /// <summary>Where each document starts and ends in the source, so that untouched ones are copied as written.</summary>
    private sealed class DocumentMarks(IParser inner) : IParser
    {
        private int _start;
        private bool _explicit;

        public List<(int Start, int End, bool Explicit)> Documents { get; } = [];

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            var moved = inner.MoveNext();
            switch (inner.Current)
            {
                case DocumentStart start:
                    _start = (int)start.Start.Index;
                    _explicit = !start.IsImplicit;
                    break;
                case DocumentEnd end:
                    Documents.Add((_start, (int)end.End.Index, _explicit));
                    break;
            }

            return moved;
        }
    }
}
