using System.Globalization;
using System.Text.RegularExpressions;
using MeshLite.Configuration;
using MeshLite.Yaml;
using YamlDotNet.RepresentationModel;

namespace MeshLite.Istio;

/// <summary>
/// Reads Istio's own YAML — a file or a folder of <c>*.yaml</c>/<c>*.yml</c>, each multi-document — into the resources
/// MeshLite applies, with Istio's validation (its wording where it has one): an invalid resource is an error naming
/// the file, line, document and field path; a field MeshLite does not implement is a warning; any other kind is
/// counted and skipped. Every API version Istio serves for a kind is read into one model.
/// </summary>
internal static class IstioResourceReader
{
    private static readonly string[] _meshConfigFields =
        ["accessLogFile", "accessLogEncoding", "accessLogFormat", "enableTracing", "defaultConfig", "outboundTrafficPolicy", "defaultProviders", "extensionProviders", "rootNamespace"];

    private static readonly string[] _grpcStatusNames =
        ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
         "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

    /// <summary>Reads <paramref name="path"/>; resources without a namespace are in <paramref name="defaultNamespace"/> (as <c>kubectl apply -n</c>).</summary>
    public static IstioResourceSet Read(string path, string defaultNamespace)
    {
        var set = new IstioResourceSet();
        var errors = new List<string>();
        foreach (var file in Files(path))
        {
            set.Files.Add(file);
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (IOException ex)
            {
                errors.Add($"{file}: cannot be read: {ex.Message}");
                continue;
            }

            var stream = new YamlStream();
            if (YamlLoading.TryLoad(stream, text) is { } invalid)
            {
                errors.Add($"{file}{(invalid.Start is { } start ? $":{start.Line}:{start.Column}" : "")}: not valid YAML: {invalid.Message}");
                continue;
            }

            for (var i = 0; i < stream.Documents.Count; i++)
            {
                var document = new YamlDocumentReader(file, i + 1);
                ReadDocument(set, stream.Documents[i].RootNode, document, defaultNamespace);
                document.WarnUnread();
                errors.AddRange(document.Errors);
                set.Warnings.AddRange(document.Warnings);
            }
        }

        if (errors.Count > 0)
        {
            throw new MeshLiteConfigurationException([.. errors.Select(e => "--istio: " + e)]);
        }

        return set;
    }

    private static IEnumerable<string> Files(string path)
    {
        if (File.Exists(path))
        {
            return [path];
        }

        if (Directory.Exists(path))
        {
            return Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                .Where(f => !Path.GetRelativePath(path, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
                .Order(StringComparer.Ordinal);
        }

        throw new MeshLiteConfigurationException($"--istio: '{path}' is neither a file nor a folder.");
    }

    private static void ReadDocument(IstioResourceSet set, YamlNode root, YamlDocumentReader document, string defaultNamespace, string path = "")
    {
        if (root is YamlScalarNode { Value: null or "" })
        {
            return;
        }

        var top = new YamlField(root, path.TrimEnd('.'), document);
        if (!top.IsMap)
        {
            top.Error("a document must be a map (a Kubernetes resource or a mesh config).");
            return;
        }

        var apiVersion = top.String("apiVersion");
        var kind = top.String("kind");
        if (kind is null && apiVersion is null)
        {
            if (_meshConfigFields.Any(f => top.Get(f) is not null))
            {
                set.MeshConfigs.Add(ReadMeshConfig(top, Meta(document, "mesh config", Path.GetFileName(document.File), "", set), document));
            }
            else
            {
                document.Warnings.Add($"{document.Where(root)}: neither a resource (no kind) nor a mesh config; skipped.");
                MarkAllRead(document, (YamlMappingNode)root, top.Path);
            }

            return;
        }

        if (kind == "List" && apiVersion == "v1")
        {
            // What `kubectl get -o yaml` writes for several resources.
            var i = 0;
            foreach (var item in top.Items("items"))
            {
                ReadDocument(set, item.Node, document, defaultNamespace, $"{path}items[{i++}].");
            }

            return;
        }

        var group = apiVersion?.Split('/')[0];
        var version = apiVersion?.Split('/').Skip(1).FirstOrDefault();
        var known = (group, kind) switch
        {
            ("telemetry.istio.io", "Telemetry") => version is "v1" or "v1alpha1",
            ("networking.istio.io", "VirtualService" or "ServiceEntry" or "Sidecar") => version is "v1" or "v1beta1" or "v1alpha3",
            (_, "ConfigMap") => IsIstioConfigMap(top),
            _ => false,
        };
        if (!known)
        {
            if (group is "telemetry.istio.io" or "networking.istio.io" && kind is "Telemetry" or "VirtualService" or "ServiceEntry" or "Sidecar")
            {
                top.Get("apiVersion")!.Value.Error($"'{apiVersion}' does not serve {kind}.");
                return;
            }

            set.Skipped[kind ?? "(no kind)"] = set.Skipped.GetValueOrDefault(kind ?? "(no kind)") + 1;
            MarkAllRead(document, (YamlMappingNode)root, top.Path);
            return;
        }

        var metadata = top.Get("metadata");
        var name = metadata?.String("name");
        if (string.IsNullOrEmpty(name))
        {
            (metadata ?? top).Error("metadata.name is required.");
            MarkAllRead(document, (YamlMappingNode)root, top.Path);
            return;
        }

        var ns = metadata?.String("namespace") ?? defaultNamespace;
        DateTimeOffset? created = null;
        if (metadata?.String("creationTimestamp") is { } timestamp)
        {
            if (DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                created = parsed;
            }
            else
            {
                metadata.Value.Get("creationTimestamp")!.Value.Error($"'{timestamp}' is not a timestamp.");
            }
        }

        // Labels, annotations and the rest of metadata say nothing MeshLite applies.
        if (metadata is { Node: YamlMappingNode metadataMap })
        {
            MarkAllRead(document, metadataMap, metadata.Value.Path);
        }

        // What a cluster reports (kubectl get -o yaml) is not configuration.
        _ = top.Get("status");

        var meta = new ResourceMeta(kind!, name, ns, created, set.Count + set.Skipped.Values.Sum(), document.File, document.Index);
        document.Resource = meta.Display;
        var spec = top.Get("spec");
        switch (kind)
        {
            case "Telemetry":
                set.Telemetries.Add(ReadTelemetry(meta, spec));
                break;
            case "VirtualService":
                set.VirtualServices.Add(ReadVirtualService(meta, spec, top));
                break;
            case "ServiceEntry":
                set.ServiceEntries.Add(ReadServiceEntry(meta, spec, top));
                break;
            case "Sidecar":
                set.Sidecars.Add(ReadSidecar(meta, spec));
                break;
            case "ConfigMap":
                ReadMeshConfigMap(set, top, meta with { Kind = "ConfigMap" }, document);
                break;
        }
    }

    /// <summary>Istio's mesh config: the <c>istio</c> (or <c>istio-&lt;revision&gt;</c>) ConfigMap, key <c>mesh</c>.</summary>
    private static bool IsIstioConfigMap(YamlField top)
    {
        var map = (YamlMappingNode)top.Node;
        var name = map.GetMap("metadata")?.GetString("name");
        return (name == "istio" || name?.StartsWith("istio-", StringComparison.Ordinal) == true) && map.GetMap("data")?.Get("mesh") is not null;
    }

    private static ResourceMeta Meta(YamlDocumentReader document, string kind, string name, string ns, IstioResourceSet set) =>
        new(kind, name, ns, null, set.Count + set.Skipped.Values.Sum(), document.File, document.Index);

    private static void MarkAllRead(YamlDocumentReader document, YamlMappingNode map, string path = "")
    {
        document.Visit(map, path);
        foreach (var key in map.Children.Keys.OfType<YamlScalarNode>())
        {
            document.MarkRead(map, path, key.Value ?? "");
        }
    }

    private static WorkloadMode Mode(YamlField entry)
    {
        var mode = entry.Get("match")?.String("mode");
        switch (mode)
        {
            case null or "CLIENT_AND_SERVER":
                return WorkloadMode.ClientAndServer;
            case "CLIENT":
                return WorkloadMode.Client;
            case "SERVER":
                return WorkloadMode.Server;
            default:
                entry.Get("match")!.Value.Get("mode")!.Value.Error($"'{mode}' is not one of CLIENT_AND_SERVER, CLIENT, SERVER.");
                return WorkloadMode.ClientAndServer;
        }
    }

    private static TelemetryResource ReadTelemetry(ResourceMeta meta, YamlField? spec)
    {
        IReadOnlyDictionary<string, string>? selector = null;
        var hasTargetRefs = false;
        var tracing = new List<TracingSpec>();
        var logging = new List<AccessLoggingSpec>();
        if (spec is not { } s)
        {
            return new TelemetryResource(meta, null, false, tracing, logging);
        }

        if (s.Get("selector") is { } selectorField)
        {
            selector = selectorField.StringMap("matchLabels");
        }

        foreach (var key in (string[])["targetRef", "targetRefs"])
        {
            if (s.Get(key) is { } refs)
            {
                hasTargetRefs = true;
                refs.Warn("sidecars ignore a policy with targetRefs (it is for gateways and waypoints); this Telemetry is not applied.");
            }
        }

        var entries = s.Items("tracing").ToList();
        if (entries.Count > 1)
        {
            entries[1].Warn("multiple tracing is not currently supported (Istio's warning); MeshLite applies the entries in order, by match.mode.");
        }

        foreach (var entry in entries)
        {
            var providers = entry.Items("providers").Select(p => (p, Name: p.String("name"))).ToList();
            foreach (var (field, name) in providers.Where(p => string.IsNullOrEmpty(p.Name)))
            {
                field.Error("providers.name may not be empty");
            }

            if (providers.Count > 1)
            {
                providers[1].p.Warn("multiple providers is not currently supported; only the first is used.");
            }

            var percentage = entry.Double("randomSamplingPercentage");
            if (percentage is < 0 or > 100)
            {
                entry.Get("randomSamplingPercentage")!.Value.Error("randomSamplingPercentage must be in range [0.0, 100.0]");
            }

            Dictionary<string, CustomTagSpec>? tags = null;
            if (entry.Get("customTags") is not null)
            {
                tags = new Dictionary<string, CustomTagSpec>(StringComparer.Ordinal);
                foreach (var (tag, value) in entry.Entries("customTags"))
                {
                    if (ReadCustomTag(value) is { } customTag)
                    {
                        tags[tag] = customTag;
                    }
                }
            }

            if (entry.Bool("enableIstioTags") == false)
            {
                entry.Get("enableIstioTags")!.Value.Warn("not implemented by MeshLite: Istio's tags are always added.");
            }

            if (entry.Bool("disableContextPropagation") == true)
            {
                entry.Get("disableContextPropagation")!.Value.Warn("not implemented by MeshLite: trace headers are still propagated.");
            }

            tracing.Add(new TracingSpec(Mode(entry), providers.FirstOrDefault().Name, percentage, entry.Bool("disableSpanReporting"),
                entry.Bool("useRequestIdForTraceSampling"), tags));
        }

        foreach (var entry in s.Items("accessLogging"))
        {
            var providers = entry.Items("providers").Select(p => p.String("name") ?? "").ToList();
            entry.Note("filter", "access-log filters (CEL) are not implemented by MeshLite; every request is logged.");
            logging.Add(new AccessLoggingSpec(Mode(entry), providers, entry.Bool("disabled")));
        }

        return new TelemetryResource(meta, selector, hasTargetRefs, tracing, logging);
    }

    private static CustomTagSpec? ReadCustomTag(YamlField value)
    {
        if (value.Get("literal") is { } literal)
        {
            if (literal.String("value") is { } text)
            {
                return new CustomTagSpec("literal", text, null);
            }

            literal.Error("value is required.");
            return null;
        }

        foreach (var kind in (string[])["environment", "header"])
        {
            if (value.Get(kind) is { } source)
            {
                if (source.String("name") is { Length: > 0 } name)
                {
                    return new CustomTagSpec(kind, name, source.String("defaultValue"));
                }

                source.Error("name is required.");
                return null;
            }
        }

        if (value.Get("formatter") is { } formatter)
        {
            formatter.Warn("formatter custom tags are not implemented by MeshLite; the tag is not added.");
            return null;
        }

        value.Error("a custom tag needs one of literal, environment, header.");
        return null;
    }

    private static VirtualServiceResource ReadVirtualService(ResourceMeta meta, YamlField? spec, YamlField top)
    {
        if (spec is not { } s)
        {
            top.Error("spec is required.");
            return new VirtualServiceResource(meta, [], false, [], []);
        }

        var hosts = s.Strings("hosts");
        if (hosts.Count == 0)
        {
            s.Error("hosts: at least one host is required.");
        }

        if (hosts.Count != hosts.Distinct(StringComparer.OrdinalIgnoreCase).Count())
        {
            s.Get("hosts")!.Value.Error("duplicate hosts in virtual service");
        }

        var gateways = s.Strings("gateways");
        var forSidecars = gateways.Count == 0 || gateways.Contains("mesh");
        if (!forSidecars)
        {
            s.Get("gateways")!.Value.Warn("bound to gateways only (no 'mesh'): sidecars do not apply this VirtualService.");
        }

        var rules = new List<HttpRuleSpec>();
        foreach (var http in s.Items("http"))
        {
            rules.Add(ReadHttpRule(http));
        }

        foreach (var key in (string[])["tcp", "tls"])
        {
            s.Note(key, $"{key} routes are not implemented by MeshLite (it proxies HTTP only).");
        }

        return new VirtualServiceResource(meta, hosts, forSidecars, s.Strings("exportTo"), rules);
    }

    private static HttpRuleSpec ReadHttpRule(YamlField http)
    {
        var matches = new List<HttpMatchOptions>();
        var sourceLabels = new List<IReadOnlyDictionary<string, string>?>();
        foreach (var match in http.Items("match"))
        {
            var options = new HttpMatchOptions();
            if (match.Get("uri") is { } uri)
            {
                options.Uri = ReadStringMatch(uri, allowPresence: false);
            }

            if (match.Get("method") is { } method)
            {
                var condition = ReadStringMatch(method, allowPresence: false);
                if (condition?.Exact is { } exact)
                {
                    options.Method = exact;
                }
                else
                {
                    method.Warn("only exact method matches are implemented by MeshLite; this condition is ignored.");
                }
            }

            foreach (var (header, condition) in match.Entries("headers"))
            {
                if (header.Any(char.IsAsciiLetterUpper))
                {
                    condition.Error("header names must be lowercase.");
                }

                if (ReadStringMatch(condition, allowPresence: true) is { } parsed)
                {
                    options.Headers[header] = parsed;
                }
            }

            sourceLabels.Add(match.Get("sourceLabels") is not null ? match.StringMap("sourceLabels") : null);
            _ = match.Get("name");
            matches.Add(options);
        }

        var route = new List<RouteDestinationSpec>();
        foreach (var destination in http.Items("route"))
        {
            var target = destination.Get("destination");
            var host = target?.String("host");
            if (string.IsNullOrEmpty(host))
            {
                (target ?? destination).Error("destination.host is required.");
                continue;
            }

            target!.Value.Note("subset", "subsets are not implemented by MeshLite (they need a DestinationRule and endpoint labels): all of the service's endpoints are used.");
            var weight = destination.Int("weight") ?? 0;
            if (weight < 0)
            {
                destination.Get("weight")!.Value.Error("weight must not be negative.");
            }

            destination.Note("headers", "per-destination headers are not implemented by MeshLite; the rule's headers are.");
            route.Add(new RouteDestinationSpec(host, target.Value.Get("port")?.Int("number"), weight));
        }

        if (route.Count > 1 && route.Sum(r => Math.Max(r.Weight, 0)) == 0)
        {
            http.Get("route")!.Value.Error("total destination weight = 0");
        }

        return new HttpRuleSpec(http.String("name"), matches, sourceLabels, route, http.Duration("timeout"), ReadRetries(http), ReadFault(http), ReadRewrite(http),
            ReadHeaders(http));
    }

    private static StringMatchOptions? ReadStringMatch(YamlField field, bool allowPresence)
    {
        if (!field.IsMap)
        {
            field.Error("must be a map with one of exact, prefix, regex.");
            return null;
        }

        var options = new StringMatchOptions { Exact = field.String("exact"), Prefix = field.String("prefix"), Regex = field.String("regex") };
        var set = (options.Exact is null ? 0 : 1) + (options.Prefix is null ? 0 : 1) + (options.Regex is null ? 0 : 1);
        if (set > 1)
        {
            field.Error("only one of exact, prefix, regex may be set.");
        }
        else if (set == 0)
        {
            if (!allowPresence)
            {
                field.Error("one of exact, prefix, regex is required.");
                return null;
            }

            options.Present = true;
        }

        if (options.Regex is { } regex)
        {
            try
            {
                _ = new Regex(regex, RegexOptions.NonBacktracking);
            }
            catch (ArgumentException ex)
            {
                field.Get("regex")!.Value.Error($"'{regex}' is not a valid regular expression: {ex.Message}");
            }
        }

        return options;
    }

    private static RewriteOptions? ReadRewrite(YamlField http)
    {
        if (http.Get("rewrite") is not { } rewrite)
        {
            return null;
        }

        rewrite.Note("uriRegexRewrite", "not implemented by MeshLite; the path is not rewritten by it.");
        var options = new RewriteOptions { Uri = rewrite.String("uri"), Authority = rewrite.String("authority") };
        if (options.Uri is { } uri && !uri.StartsWith('/'))
        {
            rewrite.Get("uri")!.Value.Error("uri must start with '/'.");
        }

        if ((http.Node as YamlMappingNode)?.Get("redirect") is not null)
        {
            rewrite.Error("rewrite may not be used with redirect");
        }

        return options.Uri is null && options.Authority is null ? null : options;
    }

    private static RouteHeadersOptions? ReadHeaders(YamlField http)
    {
        if (http.Get("headers") is not { } headers)
        {
            return null;
        }

        var options = new RouteHeadersOptions { Request = ReadHeaderOperations(headers.Get("request")), Response = ReadHeaderOperations(headers.Get("response")) };
        return options.Request is null && options.Response is null ? null : options;
    }

    private static HeaderOperationsOptions? ReadHeaderOperations(YamlField? side)
    {
        if (side is not { } field)
        {
            return null;
        }

        var options = new HeaderOperationsOptions();
        foreach (var (name, value) in field.StringMap("set"))
        {
            options.Set[name] = value;
        }

        foreach (var (name, value) in field.StringMap("add"))
        {
            options.Add[name] = value;
        }

        options.Remove.AddRange(field.Strings("remove"));
        foreach (var name in options.Set.Keys.Concat(options.Add.Keys).Concat(options.Remove))
        {
            if (name.StartsWith(':') || name.Length == 0)
            {
                field.Error($"'{name}': pseudo-headers cannot be set here (use rewrite.authority for the Host).");
            }
        }

        return options;
    }

    private static RetryOptions? ReadRetries(YamlField http)
    {
        if (http.Get("retries") is not { } retries)
        {
            return null;
        }

        var attempts = retries.Int("attempts") ?? 0;
        var perTry = retries.Duration("perTryTimeout");
        var retryOn = retries.String("retryOn");
        if (attempts < 0)
        {
            retries.Get("attempts")!.Value.Error("attempts cannot be negative");
        }

        if (attempts == 0 && (perTry is not null || retryOn is not null))
        {
            retries.Error("perTryTimeout and retryOn cannot be set when attempts is 0");
        }

        if (retryOn is not null)
        {
            foreach (var policy in retryOn.Split(','))
            {
                // Istio splits without trimming: "5xx, reset" is refused.
                if (policy.Length == 0 || policy.Trim() != policy || !RetryOn.TryParse(policy, out _, out _, out _))
                {
                    retries.Get("retryOn")!.Value.Error($"\"{policy}\" is not a valid retryOn policy");
                }
            }
        }

        retries.Note("retryRemoteLocalities", "MeshLite has no localities; ignored.");
        retries.Note("retryIgnorePreviousHosts", "MeshLite always prefers an endpoint not tried yet, as Istio's default.");
        return new RetryOptions { Attempts = attempts, PerTryTimeout = perTry, RetryOn = retryOn };
    }

    private static FaultOptions? ReadFault(YamlField http)
    {
        if (http.Get("fault") is not { } fault)
        {
            return null;
        }

        var options = new FaultOptions();
        var delay = fault.Get("delay");
        var abort = fault.Get("abort");
        if (delay is null && abort is null)
        {
            fault.Error("HTTP fault injection must have an abort and/or a delay");
            return null;
        }

        if (delay is { } d)
        {
            var fixedDelay = d.Duration("fixedDelay");
            if (fixedDelay is null && d.Get("fixedDelay") is null)
            {
                d.Note("exponentialDelay", "exponentialDelay is not implemented by MeshLite.");
                d.Error("fixedDelay is required.");
            }

            options.Delay.FixedDelayMs = (int)(fixedDelay?.TotalMilliseconds ?? 0);
            options.Delay.Percentage = Percentage(d) ?? d.Int("percent") ?? 0;
        }

        if (abort is { } a)
        {
            if (a.Get("percent") is { } removed)
            {
                removed.Warn("abort.percent was removed from Istio's API (the API server prunes it): this abort never fires. Use percentage.value.");
            }

            if (a.Int("httpStatus") is int status)
            {
                if (status is < 200 or > 599)
                {
                    a.Get("httpStatus")!.Value.Error("httpStatus must be in range 200 - 599");
                }

                options.Abort.HttpStatus = status;
            }
            else if (a.String("grpcStatus") is { } grpc)
            {
                var code = Array.IndexOf(_grpcStatusNames, grpc);
                if (code < 0)
                {
                    a.Get("grpcStatus")!.Value.Error($"'{grpc}' is not a gRPC status name such as UNAVAILABLE.");
                }

                options.Abort.GrpcStatus = Math.Max(code, 0);
            }
            else
            {
                a.Warn("abort configured, but error type not set (httpStatus or grpcStatus); it never fires.");
                return options;
            }

            options.Abort.Percentage = Percentage(a) ?? 0;
        }

        foreach (var (side, field) in (ValueTuple<string, YamlField?>[])[("delay", delay), ("abort", abort)])
        {
            if (field is { } f && f.Get("percentage") is null && f.Get("percent") is null)
            {
                f.Warn($"no percentage: Istio never fires this {side} (0 %).");
            }
        }

        return options;
    }

    /// <summary><c>percentage.value</c>, refused (never clamped) outside Istio's range.</summary>
    private static double? Percentage(YamlField parent)
    {
        if (parent.Get("percentage") is not { } percentage)
        {
            return null;
        }

        var value = percentage.Double("value") ?? 0;
        if (value != 0 && value is < 0.0001 or > 100)
        {
            percentage.Error($"percentage {value.ToString(CultureInfo.InvariantCulture)} is neither 0.0, nor in range [0.0001, 100.0]");
        }

        return value;
    }

    private static ServiceEntryResource ReadServiceEntry(ResourceMeta meta, YamlField? spec, YamlField top)
    {
        if (spec is not { } s)
        {
            top.Error("spec is required.");
            return new ServiceEntryResource(meta, [], [], "NONE", [], []);
        }

        var hosts = s.Strings("hosts");
        if (hosts.Count == 0)
        {
            s.Error("hosts: at least one host is required.");
        }

        if (hosts.Contains("*"))
        {
            s.Get("hosts")!.Value.Error("invalid host *");
        }

        var ports = new List<ServicePortSpec>();
        foreach (var port in s.Items("ports"))
        {
            var number = port.Int("number") ?? 0;
            var name = port.String("name") ?? "";
            if (number is < 1 or > 65535)
            {
                port.Error($"number '{number}' is not a port (1–65535).");
            }

            if (name.Length == 0)
            {
                port.Error("name is required.");
            }

            ports.Add(new ServicePortSpec(number, name, port.String("protocol"), port.Int("targetPort") ?? number));
        }

        if (ports.Select(p => p.Number).Distinct().Count() != ports.Count || ports.Select(p => p.Name).Distinct().Count() != ports.Count)
        {
            s.Get("ports")!.Value.Error("port numbers and names must be unique.");
        }

        var resolution = s.String("resolution") ?? "NONE";
        if (resolution is not ("NONE" or "STATIC" or "DNS" or "DNS_ROUND_ROBIN" or "DYNAMIC_DNS"))
        {
            s.Get("resolution")!.Value.Error($"'{resolution}' is not one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS.");
        }

        var endpoints = new List<ServiceEndpointSpec>();
        foreach (var endpoint in s.Items("endpoints"))
        {
            var address = endpoint.String("address");
            if (string.IsNullOrEmpty(address))
            {
                endpoint.Error("address is required.");
                continue;
            }

            var endpointPorts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (name, value) in endpoint.Entries("ports"))
            {
                if (value.Node is YamlScalarNode { Value: { } text } && int.TryParse(text, CultureInfo.InvariantCulture, out var n))
                {
                    endpointPorts[name] = n;
                }
                else
                {
                    value.Error("must be a port number.");
                }
            }

            foreach (var key in (string[])["labels", "weight", "locality", "network"])
            {
                endpoint.Note(key, "not implemented by MeshLite: endpoints are balanced by least request, equally.");
            }

            endpoints.Add(new ServiceEndpointSpec(address, endpointPorts));
        }

        if (resolution == "STATIC" && endpoints.Count == 0 && s.Get("workloadSelector") is null)
        {
            s.Error("endpoints are required for resolution STATIC.");
        }

        s.Note("location", "affects mTLS and telemetry labels in Istio; MeshLite treats every entry alike.");
        s.Note("addresses", "MeshLite routes by Host, not by address.");
        return new ServiceEntryResource(meta, hosts, ports, resolution, endpoints, s.Strings("exportTo"));
    }

    private static SidecarResource ReadSidecar(ResourceMeta meta, YamlField? spec)
    {
        if (spec is not { } s)
        {
            return new SidecarResource(meta, null, null);
        }

        var selector = s.Get("workloadSelector") is { } workloadSelector ? workloadSelector.StringMap("labels") : null;
        string? mode = null;
        if (s.Get("outboundTrafficPolicy") is { } policy)
        {
            // A block without mode is the enum's zero value: REGISTRY_ONLY.
            mode = policy.String("mode") ?? OutboundTrafficPolicies.RegistryOnly;
            if (mode is not (OutboundTrafficPolicies.RegistryOnly or OutboundTrafficPolicies.AllowAny))
            {
                policy.Get("mode")!.Value.Error($"'{mode}' is not one of REGISTRY_ONLY, ALLOW_ANY.");
            }
        }

        s.Note("egress", "egress hosts scope what Istio pushes to a sidecar (visibility, not a firewall); MeshLite's registry is every service it knows, and outboundTrafficPolicy decides the rest.");
        return new SidecarResource(meta, selector, mode);
    }

    private static void ReadMeshConfigMap(IstioResourceSet set, YamlField top, ResourceMeta meta, YamlDocumentReader document)
    {
        var data = top.Get("data")!.Value;
        var mesh = data.Get("mesh")!.Value;
        if (mesh.Node is not YamlScalarNode { Value: { } text })
        {
            mesh.Error("must be a string holding the mesh config as YAML.");
            return;
        }

        if (data.Node is YamlMappingNode dataMap)
        {
            MarkAllRead(document, dataMap, data.Path);
        }

        var inner = new YamlStream();
        if (YamlLoading.TryLoad(inner, text) is { } invalid)
        {
            mesh.Error($"not valid YAML{(invalid.Start is { } start ? $" at line {start.Line} of the mesh config" : "")}: {invalid.Message}");
            return;
        }

        if (inner.Documents.Count == 0 || inner.Documents[0].RootNode is not YamlMappingNode)
        {
            return;
        }

        // Positions inside the mesh string count from its own first line.
        var innerDocument = new YamlDocumentReader($"{document.File} data.mesh", document.Index) { Resource = meta.Display };
        set.MeshConfigs.Add(ReadMeshConfig(new YamlField(inner.Documents[0].RootNode, "", innerDocument), meta, innerDocument));
        innerDocument.WarnUnread();
        document.Errors.AddRange(innerDocument.Errors);
        document.Warnings.AddRange(innerDocument.Warnings);
    }

    private static MeshConfigResource ReadMeshConfig(YamlField mesh, ResourceMeta meta, YamlDocumentReader document)
    {
        document.Resource = meta.Display;
        var encoding = mesh.String("accessLogEncoding");
        if (encoding is not (null or "TEXT" or "JSON"))
        {
            mesh.Get("accessLogEncoding")!.Value.Error($"'{encoding}' is not one of TEXT, JSON.");
        }

        string? outbound = null;
        if (mesh.Get("outboundTrafficPolicy") is { } policy)
        {
            outbound = policy.String("mode") ?? OutboundTrafficPolicies.RegistryOnly;
            if (outbound == "ALLOW_ANY_DYNAMIC_DNS")
            {
                policy.Get("mode")!.Value.Warn("ALLOW_ANY_DYNAMIC_DNS is applied as ALLOW_ANY.");
                outbound = OutboundTrafficPolicies.AllowAny;
            }
            else if (outbound is not (OutboundTrafficPolicies.RegistryOnly or OutboundTrafficPolicies.AllowAny))
            {
                policy.Get("mode")!.Value.Error($"'{outbound}' is not one of REGISTRY_ONLY, ALLOW_ANY, ALLOW_ANY_DYNAMIC_DNS.");
            }
        }

        double? sampling = null;
        TimeSpan? drain = null;
        if (mesh.Get("defaultConfig") is { } defaultConfig)
        {
            sampling = defaultConfig.Get("tracing")?.Double("sampling");
            drain = defaultConfig.Duration("terminationDrainDuration");
            defaultConfig.Get("tracing")?.Note("zipkin", "MeshLite exports over OTLP (MeshLite:Tracing:Otlp:Endpoint); the tracer address is not used.");
        }

        var providers = new List<string>();
        foreach (var provider in mesh.Items("extensionProviders"))
        {
            var name = provider.String("name");
            if (string.IsNullOrEmpty(name))
            {
                provider.Error("providers.name may not be empty");
                continue;
            }

            if (providers.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                provider.Error($"extension provider name '{name}' is not unique.");
            }

            providers.Add(name);
            if (provider.Node is YamlMappingNode providerMap)
            {
                foreach (var key in providerMap.Children.Keys.OfType<YamlScalarNode>().Where(k => k.Value != "name"))
                {
                    provider.Note(key.Value!, "MeshLite exports spans over OTLP to MeshLite:Tracing:Otlp:Endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) whatever the provider's backend; its service and port are not used.");
                }
            }
        }

        var defaults = mesh.Get("defaultProviders");
        return new MeshConfigResource(meta, mesh.String("accessLogFile"), encoding, mesh.String("accessLogFormat"), mesh.Bool("enableTracing"), sampling, outbound,
            defaults?.Strings("tracing") ?? [], defaults?.Strings("accessLogging") ?? [], providers, mesh.String("rootNamespace"), drain);
    }
}
