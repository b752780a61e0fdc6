using System.Globalization;
using System.Text.RegularExpressions;
using MeshLite.Configuration;

namespace MeshLite.Istio;

/// <summary>Who the sidecar is, as Istio's selectors and short names see it, and its registry (service name → namespace) before Istio's.</summary>
internal sealed record IstioWorkload(
    string Namespace,
    IReadOnlyDictionary<string, string> Labels,
    string ClusterDomain,
    string RootNamespace,
    IReadOnlyDictionary<string, string> Registry);

/// <summary>One effective setting taken from Istio: the <c>MeshLite:</c> keys it sets and the resource it came from.</summary>
internal sealed record IstioSetting(string Name, string Source, IReadOnlyDictionary<string, string> Keys);

/// <summary>
/// What Istio's resources mean for one sidecar, as <c>MeshLite:*</c> keys: the Telemetry that applies to it (mesh,
/// then namespace, then workload, as istiod merges them), the mesh config, its Sidecar, the ServiceEntries it sees
/// (its registry) and the VirtualServices of those hosts (rules applied on its outbound side). Each setting names the
/// resource it came from; where Istio does something surprising, the translation follows Istio and warns.
/// </summary>
internal sealed partial class IstioTranslation
{
    private const string P = MeshLiteOptions.SectionName + ":";

    private readonly IstioResourceSet _resources;
    private readonly IstioWorkload _workload;
    private readonly MeshConfigResource? _mesh;
    private readonly Dictionary<string, IstioSetting> _settings = new(StringComparer.Ordinal);

    private IstioTranslation(IstioResourceSet resources, IstioWorkload workload)
    {
        _resources = resources;
        _workload = workload;
        Warnings = [.. resources.Warnings];
        _mesh = MergeMeshConfigs(resources.MeshConfigs);
        RootNamespace = _mesh?.RootNamespace ?? workload.RootNamespace;
    }

    /// <summary><c>meshConfig.rootNamespace</c>, else <c>MeshLite:Istio:RootNamespace</c>.</summary>
    private string RootNamespace { get; }

    public List<string> Warnings { get; }

    public IReadOnlyCollection<IstioSetting> Settings => _settings.Values;

    public string Summary => _resources.Summary();

    /// <summary>Every key, with the <c>MeshLite:</c> prefix, as a configuration provider serves them.</summary>
    public Dictionary<string, string?> Keys()
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var setting in _settings.Values)
        {
            foreach (var (key, value) in setting.Keys)
            {
                keys[P + key] = value;
            }
        }

        return keys;
    }

    public static IstioTranslation Translate(IstioResourceSet resources, IstioWorkload workload)
    {
        var translation = new IstioTranslation(resources, workload);
        translation.ApplyMeshConfig();
        translation.ApplyTelemetry();
        translation.ApplySidecar();
        translation.ApplyServiceEntries();
        translation.ApplyVirtualServices();
        return translation;
    }

    private void Set(string name, string source, params (string Key, string Value)[] keys)
    {
        var merged = _settings.TryGetValue(name, out var existing) ? new Dictionary<string, string>(existing.Keys, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in keys)
        {
            merged[key] = value;
        }

        _settings[name] = new IstioSetting(name, source, merged);
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(bool value) => value ? "true" : "false";

    private static string Text(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>Top-level fields override in order; <c>defaultConfig</c> and <c>defaultProviders</c> merge, as Istio's ApplyMeshConfig.</summary>
    private static MeshConfigResource? MergeMeshConfigs(List<MeshConfigResource> configs)
    {
        if (configs.Count == 0)
        {
            return null;
        }

        var merged = configs[0];
        foreach (var next in configs.Skip(1))
        {
            merged = new MeshConfigResource(next.Meta,
                next.AccessLogFile ?? merged.AccessLogFile, next.AccessLogEncoding ?? merged.AccessLogEncoding, next.AccessLogFormat ?? merged.AccessLogFormat,
                next.EnableTracing ?? merged.EnableTracing, next.DefaultSampling ?? merged.DefaultSampling, next.OutboundTrafficPolicy ?? merged.OutboundTrafficPolicy,
                next.DefaultTracingProviders.Count > 0 ? next.DefaultTracingProviders : merged.DefaultTracingProviders,
                next.DefaultAccessLogProviders.Count > 0 ? next.DefaultAccessLogProviders : merged.DefaultAccessLogProviders,
                [.. merged.ExtensionProviders.Union(next.ExtensionProviders, StringComparer.OrdinalIgnoreCase)],
                next.RootNamespace ?? merged.RootNamespace, next.TerminationDrainDuration ?? merged.TerminationDrainDuration);
        }

        return merged;
    }

    private void ApplyMeshConfig()
    {
        if (_mesh is not { } mesh)
        {
            return;
        }

        var source = mesh.Meta.Display;
        if (mesh.OutboundTrafficPolicy is { } mode)
        {
            Set("OutboundTrafficPolicy", source, ("OutboundTrafficPolicy", mode));
        }

        if (mesh.TerminationDrainDuration is { } drain)
        {
            Set("TerminationDrainDuration", source, ("TerminationDrainDuration", Text(drain)));
        }

        if (mesh.AccessLogEncoding is { } encoding)
        {
            Set("AccessLog:Encoding", source, ("AccessLog:Encoding", encoding));
        }

        if (!string.IsNullOrEmpty(mesh.AccessLogFormat))
        {
            // Istio logs a JSON format it cannot parse and uses its default; a TEXT format Envoy cannot take is refused
            // by Envoy, which keeps what it had: the default here too, with the reason.
            var json = mesh.AccessLogEncoding == "JSON";
            if (json ? EnvoyFormat.TryParseJson(mesh.AccessLogFormat, out _, out var error) : EnvoyFormat.TryParse(mesh.AccessLogFormat, out _, out error))
            {
                Set("AccessLog:Format", source, ("AccessLog:Format", mesh.AccessLogFormat));
            }
            else
            {
                Warnings.Add($"{source}: accessLogFormat: {error}; Istio's default {(json ? "JSON" : "TEXT")} format is used.");
            }
        }
    }

    /// <summary>Istio's <c>applicableTelemetries</c>: the oldest selector-less one in the root namespace, then in the sidecar's, then every matching workload one, oldest first.</summary>
    private List<TelemetryResource> ApplicableTelemetries()
    {
        var applicable = new List<TelemetryResource>();
        var telemetries = _resources.Telemetries.Where(t => !t.HasTargetRefs).OrderBy(t => t.Meta, ResourceMeta.Oldest).ToList();
        foreach (var ns in new[] { RootNamespace, _workload.Namespace }.Distinct(StringComparer.Ordinal))
        {
            var wide = telemetries.Where(t => t.Meta.Namespace == ns && (t.Selector is null || t.Selector.Count == 0)).ToList();
            if (wide.Count > 0)
            {
                applicable.Add(wide[0]);
                foreach (var ignored in wide.Skip(1))
                {
                    Warnings.Add($"{ignored.Meta.Display}: ignored: {wide[0].Meta.Display} is older and also applies to the whole namespace (IST0160; the oldest wins).");
                }
            }
        }

        var matching = telemetries.Where(t => t.Meta.Namespace == _workload.Namespace && t.Selector is { Count: > 0 } selector && Selects(selector)).ToList();
        if (matching.Count > 1)
        {
            Warnings.Add($"{string.Join(", ", matching.Select(t => t.Meta.Display))} all select this workload (IST0159); they are merged oldest first, so the newest wins each field.");
        }

        applicable.AddRange(matching);
        return applicable;
    }

    private bool Selects(IReadOnlyDictionary<string, string> selector) =>
        selector.All(label => _workload.Labels.TryGetValue(label.Key, out var value) && value == label.Value);

    /// <summary>Tracing per direction, merged as Istio's <c>Tracing()</c>: any field set overwrites; custom tags replace the whole map.</summary>
    private sealed class TracingState
    {
        public (string? Value, string Source) Provider;
        public (double? Value, string Source) Sampling;
        public (bool? Value, string Source) DisableSpanReporting;
        public (bool? Value, string Source) UseRequestId;
        public (IReadOnlyDictionary<string, CustomTagSpec>? Value, string Source) CustomTags;

        public void Apply(TracingSpec spec, string source)
        {
            if (spec.Provider is not null)
            {
                Provider = (spec.Provider, source);
            }

            if (spec.RandomSamplingPercentage is not null)
            {
                Sampling = (spec.RandomSamplingPercentage, source);
            }

            if (spec.DisableSpanReporting is not null)
            {
                DisableSpanReporting = (spec.DisableSpanReporting, source);
            }

            if (spec.UseRequestIdForTraceSampling is not null)
            {
                UseRequestId = (spec.UseRequestIdForTraceSampling, source);
            }

            if (spec.CustomTags is not null)
            {
                CustomTags = (spec.CustomTags, source);
            }
        }

        /// <summary>Everything but the sampling percentage, which MeshLite keeps per listener.</summary>
        public string Fingerprint() =>
            $"{Provider.Value}|{DisableSpanReporting.Value}|{UseRequestId.Value}|{string.Join(',', (CustomTags.Value ?? new Dictionary<string, CustomTagSpec>()).Select(t => $"{t.Key}={t.Value}"))}";
    }

    private void ApplyTelemetry()
    {
        var telemetries = ApplicableTelemetries();
        ApplyTracing(telemetries);
        ApplyAccessLogging(telemetries);
    }

    private void ApplyTracing(List<TelemetryResource> telemetries)
    {
        var defaultProvider = _mesh is { DefaultTracingProviders.Count: > 0 } m ? m.DefaultTracingProviders[0] : null;
        var server = new TracingState { Provider = (defaultProvider, _mesh?.Meta.Display ?? "") };
        var client = new TracingState { Provider = (defaultProvider, _mesh?.Meta.Display ?? "") };
        string? lastTracing = null;
        foreach (var telemetry in telemetries)
        {
            foreach (var spec in telemetry.Tracing)
            {
                lastTracing = telemetry.Meta.Display;
                if (spec.Mode != WorkloadMode.Client)
                {
                    server.Apply(spec, telemetry.Meta.Display);
                }

                if (spec.Mode != WorkloadMode.Server)
                {
                    client.Apply(spec, telemetry.Meta.Display);
                }
            }
        }

        if (server.Fingerprint() != client.Fingerprint())
        {
            Warnings.Add("Telemetry: tracing differs between CLIENT and SERVER for this workload beyond the sampling percentage; MeshLite has one provider, span reporting and set of custom tags for both listeners and applies the SERVER (inbound) one.");
        }

        if (lastTracing is null && defaultProvider is null)
        {
            // Istio's legacy path: enableTracing and defaultConfig.tracing, used only without any Telemetry tracing or default provider.
            if (_mesh is { } mesh)
            {
                if (mesh.EnableTracing == false)
                {
                    Set("Tracing:Enabled", mesh.Meta.Display, ("Tracing:Enabled", "false"));
                }

                if (DefaultSampling() is { } legacy)
                {
                    Set("Tracing:Sampling", mesh.Meta.Display, ("Tracing:Sampling", Text(legacy)));
                }
            }

            return;
        }

        var provider = server.Provider;
        if (provider.Value is null)
        {
            // Only a Telemetry can bring tracing here without a provider: a default provider would have been one.
            Set("Tracing:Enabled", lastTracing!, ("Tracing:Enabled", "false"));
            Warnings.Add($"{lastTracing}: tracing names no provider and meshConfig.defaultProviders.tracing is empty: Istio turns tracing off, and so does MeshLite. Name one in tracing[].providers.");
            return;
        }

        if (_mesh is { ExtensionProviders.Count: > 0 } withProviders && !withProviders.ExtensionProviders.Contains(provider.Value, StringComparer.OrdinalIgnoreCase))
        {
            Set("Tracing:Enabled", provider.Source, ("Tracing:Enabled", "false"));
            Warnings.Add($"{provider.Source}: tracing provider '{provider.Value}' is not one of meshConfig.extensionProviders ({string.Join(", ", withProviders.ExtensionProviders)}): Istio turns tracing off, and so does MeshLite.");
            return;
        }

        if (_mesh?.EnableTracing == false)
        {
            Warnings.Add($"{_mesh.Meta.Display}: enableTracing: false is ignored because Telemetry configures tracing (as in Istio).");
        }

        if (server.Sampling.Value is { } percentage)
        {
            Set("Tracing:Sampling", server.Sampling.Source, ("Tracing:Sampling", Text(percentage)));
        }
        else if (DefaultSampling() is { } fallback)
        {
            Set("Tracing:Sampling", _mesh!.Meta.Display, ("Tracing:Sampling", Text(fallback)));
        }

        // CLIENT's percentage, when it differs, decides the traces this sidecar starts on its outbound listener.
        if (client.Sampling.Value is { } outbound && outbound != (server.Sampling.Value ?? DefaultSampling()))
        {
            Set("Tracing:OutboundSampling", client.Sampling.Source, ("Tracing:OutboundSampling", Text(outbound)));
        }

        if (server.DisableSpanReporting.Value is { } disabled)
        {
            Set("Tracing:DisableSpanReporting", server.DisableSpanReporting.Source, ("Tracing:DisableSpanReporting", Text(disabled)));
        }

        if (server.UseRequestId.Value is { } useRequestId)
        {
            Set("Tracing:UseRequestIdForTraceSampling", server.UseRequestId.Source, ("Tracing:UseRequestIdForTraceSampling", Text(useRequestId)));
        }

        foreach (var (tag, spec) in server.CustomTags.Value ?? new Dictionary<string, CustomTagSpec>())
        {
            var key = $"Tracing:CustomTags:{tag}";
            if (spec.Kind == "literal")
            {
                Set(key, server.CustomTags.Source, ($"{key}:Literal:Value", spec.Value));
            }
            else
            {
                var kind = spec.Kind == "environment" ? "Environment" : "Header";
                Set(key, server.CustomTags.Source, [($"{key}:{kind}:Name", spec.Value), .. spec.DefaultValue is { } d ? new[] { ($"{key}:{kind}:DefaultValue", d) } : []]);
            }
        }
    }

    /// <summary><c>defaultConfig.tracing.sampling</c> when it is not 0 (above 100 counts as 1, as istiod does).</summary>
    private double? DefaultSampling() =>
        _mesh?.DefaultSampling is { } sampling and not 0 ? sampling > 100 ? 1.0 : sampling : null;

    /// <summary>
    /// Istio's log merge for the inbound listener: the providers of the last level that names some (else the mesh's
    /// default providers), switched off by <c>disabled: true</c>; with none at all, <c>meshConfig.accessLogFile</c> decides.
    /// </summary>
    private void ApplyAccessLogging(List<TelemetryResource> telemetries)
    {
        IReadOnlyList<string> providers = _mesh?.DefaultAccessLogProviders ?? [];
        var providerSource = _mesh?.Meta.Display;
        var disabled = false;
        string? disabledSource = null;
        foreach (var telemetry in telemetries)
        {
            if (telemetry.AccessLogging.Any(e => e.Mode == WorkloadMode.Client))
            {
                Warnings.Add($"{telemetry.Meta.Display}: accessLogging with match.mode CLIENT is not applied: MeshLite has one access log for both listeners, set by the SERVER (inbound) entries.");
            }

            foreach (var entry in telemetry.AccessLogging.Where(e => e.Mode != WorkloadMode.Client))
            {
                if (entry.Providers.Count > 0)
                {
                    providers = entry.Providers;
                    providerSource = telemetry.Meta.Display;
                }

                disabled = entry.Disabled == true;
                disabledSource = telemetry.Meta.Display;
            }
        }

        if (providers.Count > 0)
        {
            Set("AccessLog:Enabled", disabled ? disabledSource! : providerSource!, ("AccessLog:Enabled", Text(!disabled)));
            return;
        }

        if (_mesh is { } mesh)
        {
            if (disabled)
            {
                Warnings.Add($"{disabledSource}: accessLogging disabled: true has no provider in scope, so it does not silence meshConfig.accessLogFile (as in Istio).");
            }

            var file = mesh.AccessLogFile ?? "";
            Set("AccessLog:Enabled", mesh.Meta.Display, [("AccessLog:Enabled", Text(file.Length > 0)), .. file.Length > 0 ? new[] { ("AccessLog:Path", file) } : []]);
        }
        else if (disabled)
        {
            Set("AccessLog:Enabled", disabledSource!, ("AccessLog:Enabled", "false"));
        }
    }

    /// <summary>Istio's Sidecar scope: the oldest matching workload Sidecar, else the namespace's, else the root namespace's; its policy, else the mesh's.</summary>
    private void ApplySidecar()
    {
        var sidecars = _resources.Sidecars.OrderBy(s => s.Meta, ResourceMeta.Oldest).ToList();
        var chosen = sidecars.FirstOrDefault(s => s.Meta.Namespace == _workload.Namespace && s.Selector is { Count: > 0 } selector && Selects(selector))
            ?? OldestWide(sidecars, _workload.Namespace)
            ?? OldestWide(sidecars, RootNamespace);
        if (chosen?.OutboundTrafficPolicy is { } mode)
        {
            Set("OutboundTrafficPolicy", chosen.Meta.Display, ("OutboundTrafficPolicy", mode));
        }
    }

    private SidecarResource? OldestWide(List<SidecarResource> sidecars, string ns)
    {
        var wide = sidecars.Where(s => s.Meta.Namespace == ns && (s.Selector is null || s.Selector.Count == 0)).ToList();
        if (wide.Count > 1)
        {
            Warnings.Add($"{string.Join(", ", wide.Select(s => s.Meta.Display))}: more than one Sidecar without a selector in namespace {ns} (IST0111); the oldest applies.");
        }

        return wide.FirstOrDefault();
    }

    private bool Visible(ResourceMeta meta, IReadOnlyList<string> exportTo) =>
        exportTo.Count == 0 || exportTo.Contains("*") || exportTo.Contains(meta.Namespace)
        || (exportTo.Contains(".") && meta.Namespace == _workload.Namespace);

    /// <summary>A host as Istio resolves it: a name without a dot is <c>name.&lt;namespace&gt;.svc.&lt;domain&gt;</c>.</summary>
    private string Fqdn(string host, string ns) => host.Contains('.', StringComparison.Ordinal) ? host : $"{host}.{ns}.svc.{_workload.ClusterDomain}";

    /// <summary>The registry key of a host: a Kubernetes service's name (and its namespace), or the host itself.</summary>
    private (string Key, string? Namespace) ServiceKey(string fqdn)
    {
        var match = KubernetesHost().Match(fqdn);
        return match.Success && string.Equals(match.Groups[3].Value, _workload.ClusterDomain, StringComparison.OrdinalIgnoreCase)
            ? (match.Groups[1].Value, match.Groups[2].Value)
            : (fqdn.ToLowerInvariant(), null);
    }

    [GeneratedRegex(@"^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.(.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KubernetesHost();

    private readonly HashSet<string> _entryServices = new(StringComparer.Ordinal);

    private void ApplyServiceEntries()
    {
        var claimed = new Dictionary<string, ServiceEntryResource>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in _resources.ServiceEntries.OrderBy(e => e.Meta, ResourceMeta.Oldest))
        {
            if (!Visible(entry.Meta, entry.ExportTo))
            {
                continue;
            }

            var httpPorts = entry.Ports.Where(p => HttpProtocol(p.Protocol) is not null).ToList();
            foreach (var other in entry.Ports.Except(httpPorts))
            {
                Warnings.Add($"{entry.Meta.Display}: port {other.Number} ({other.Protocol}) is not HTTP; MeshLite proxies HTTP only and leaves it out.");
            }

            if (httpPorts.Count == 0)
            {
                continue;
            }

            if (httpPorts.Count > 1)
            {
                Warnings.Add($"{entry.Meta.Display}: MeshLite routes a host to one port; port {httpPorts[0].Number} is used, not {string.Join(", ", httpPorts.Skip(1).Select(p => p.Number))}.");
            }

            var port = httpPorts[0];
            foreach (var host in entry.Hosts)
            {
                if (host.StartsWith('*'))
                {
                    Warnings.Add($"{entry.Meta.Display}: wildcard host '{host}' is not implemented by MeshLite; left out.");
                    continue;
                }

                var fqdn = Fqdn(host, entry.Meta.Namespace);
                if (claimed.TryGetValue(fqdn, out var older))
                {
                    Warnings.Add($"{entry.Meta.Display}: host '{fqdn}' is already defined by the older {older.Meta.Display}; ignored.");
                    continue;
                }

                var (key, ns) = ServiceKey(fqdn);
                if (InAnotherNamespace(key, ns, fqdn, entry.Meta))
                {
                    continue;
                }

                claimed[fqdn] = entry;
                var endpoints = Endpoints(entry, port, host);
                var keys = new List<(string, string)>
                {
                    ($"Services:{key}:Port", Text(port.Number)),
                    ($"Services:{key}:Protocol", HttpProtocol(port.Protocol)!),

                    // Istio's default retry policy applies to every route it builds, ServiceEntries' included.
                    ($"Services:{key}:Retries:Attempts", Text(RetryOptions.DefaultAttempts)),
                };
                if (ns is not null)
                {
                    keys.Add(($"Services:{key}:Namespace", ns));
                }

                for (var i = 0; i < endpoints.Count; i++)
                {
                    keys.Add(($"Services:{key}:Endpoints:{i}", endpoints[i]));
                }

                Set($"Services:{key}", entry.Meta.Display, [.. keys]);
                _entryServices.Add(key);
            }
        }
    }

    private List<string> Endpoints(ServiceEntryResource entry, ServicePortSpec port, string host)
    {
        var endpoints = new List<string>();
        if (entry.Resolution is "STATIC" or "DNS" or "DNS_ROUND_ROBIN" && entry.Endpoints.Count > 0)
        {
            foreach (var endpoint in entry.Resolution == "DNS_ROUND_ROBIN" ? entry.Endpoints.Take(1) : entry.Endpoints)
            {
                if (endpoint.Address.StartsWith("unix://", StringComparison.Ordinal))
                {
                    Warnings.Add($"{entry.Meta.Display}: endpoint '{endpoint.Address}' is a Unix socket, which MeshLite does not forward to; left out.");
                    continue;
                }

                var number = endpoint.Ports.TryGetValue(port.Name, out var p) ? p : port.TargetPort;
                var address = endpoint.Address.Contains(':', StringComparison.Ordinal) && !endpoint.Address.StartsWith('[') ? $"[{endpoint.Address}]" : endpoint.Address;
                endpoints.Add($"http://{address}:{Text(number)}");
            }
        }
        else
        {
            // DNS without endpoints resolves the host itself; NONE forwards to where the caller was going, which is the host.
            endpoints.Add($"http://{host}:{Text(port.TargetPort)}");
        }

        return endpoints;
    }

    private static string? HttpProtocol(string? protocol) => protocol?.ToUpperInvariant() switch
    {
        null or "" => UpstreamProtocols.Auto,
        "HTTP" => UpstreamProtocols.Http,
        "HTTP2" or "GRPC" or "GRPC-WEB" => UpstreamProtocols.Http2,
        _ => null,
    };

    private void ApplyVirtualServices()
    {
        var claimed = new Dictionary<string, VirtualServiceResource>(StringComparer.OrdinalIgnoreCase);
        foreach (var vs in _resources.VirtualServices.OrderBy(v => v.Meta, ResourceMeta.Oldest))
        {
            if (!vs.ForSidecars || !Visible(vs.Meta, vs.ExportTo))
            {
                continue;
            }

            foreach (var host in vs.Hosts)
            {
                if (host.Contains('*', StringComparison.Ordinal))
                {
                    Warnings.Add($"{vs.Meta.Display}: wildcard host '{host}' is not implemented by MeshLite; left out.");
                    continue;
                }

                var fqdn = Fqdn(host, vs.Meta.Namespace);
                if (claimed.TryGetValue(fqdn, out var older))
                {
                    Warnings.Add($"{vs.Meta.Display}: host '{fqdn}' already has the older {older.Meta.Display} (IST0109); on sidecars the oldest wins, so this one is ignored for it.");
                    continue;
                }

                if (Registered(fqdn, vs.Meta) is not var (key, ns))
                {
                    continue;
                }

                claimed[fqdn] = vs;
                var keys = new List<(string, string)>();
                if (ns is not null)
                {
                    keys.Add(($"Services:{key}:Namespace", ns));
                }

                var index = 0;
                foreach (var rule in vs.Http)
                {
                    if (RuleKeys(vs, rule, $"Services:{key}:Routes:{index}") is { } ruleKeys)
                    {
                        keys.AddRange(ruleKeys);
                        index++;
                    }
                }

                Set($"Services:{key}:Routes", vs.Meta.Display, [.. keys]);
            }
        }
    }

    /// <summary>
    /// The registry key of a VirtualService host or destination. A host the registry lacks is added (no endpoints: 503
    /// UH) with a warning; a host whose name the registry has in another namespace is another service, which MeshLite's
    /// registry (one entry per name) cannot hold beside it: null, with a warning.
    /// </summary>
    private (string Key, string? Namespace)? Registered(string fqdn, ResourceMeta source)
    {
        var (key, ns) = ServiceKey(fqdn);
        if (_entryServices.Contains(key))
        {
            return (key, ns);
        }

        if (_workload.Registry.ContainsKey(key))
        {
            return InAnotherNamespace(key, ns, fqdn, source) ? null : (key, ns);
        }

        Warnings.Add($"{source.Display}: host '{fqdn}' is neither in MeshLite:Services nor in a ServiceEntry; it has no endpoints, so calls get 503 UH.");
        _entryServices.Add(key);
        return (key, ns);
    }

    /// <summary>Whether a Kubernetes host names a registry service's name in another namespace (another service), said in a warning.</summary>
    private bool InAnotherNamespace(string key, string? ns, string fqdn, ResourceMeta source)
    {
        if (ns is null || !_workload.Registry.TryGetValue(key, out var registered) || string.Equals(ns, registered, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        Warnings.Add($"{source.Display}: host '{fqdn}' is not MeshLite:Services:{key}, which is in namespace '{registered}'; MeshLite's registry holds one service per name, so this is left out.");
        return true;
    }

    private List<(string, string)>? RuleKeys(VirtualServiceResource vs, HttpRuleSpec rule, string prefix)
    {
        var keys = new List<(string, string)>();
        if (rule.Name is { } name)
        {
            keys.Add(($"{prefix}:Name", name));
        }

        // sourceLabels choose the calling workload, once, at load: a match block for other workloads is left out.
        var blocks = rule.Match.Select((m, i) => (Match: m, Labels: rule.SourceLabels[i])).Where(b => b.Labels is null || Selects(b.Labels)).ToList();
        if (rule.Match.Count > 0 && blocks.Count == 0)
        {
            return null;
        }

        // A block without conditions matches every request, and so does the rule.
        if (blocks.Any(b => b.Match.Uri is null && b.Match.Method is null && b.Match.Headers.Count == 0))
        {
            blocks.Clear();
        }

        for (var m = 0; m < blocks.Count; m++)
        {
            var match = blocks[m].Match;
            var at = $"{prefix}:Match:{m}";
            if (match.Method is { } method)
            {
                keys.Add(($"{at}:Method", method));
            }

            if (match.Uri is { } uri)
            {
                keys.AddRange(StringMatchKeys($"{at}:Uri", uri));
            }

            foreach (var (header, condition) in match.Headers)
            {
                keys.AddRange(StringMatchKeys($"{at}:Headers:{header}", condition));
            }
        }

        for (var d = 0; d < rule.Route.Count; d++)
        {
            var destination = rule.Route[d];
            if (Registered(Fqdn(destination.Host, vs.Meta.Namespace), vs.Meta) is not var (service, ns))
            {
                // A destination MeshLite cannot name: Istio would answer 503 NC; leaving the rule out is closer than sending elsewhere.
                return null;
            }

            keys.Add(($"{prefix}:Destinations:{d}:Service", service));
            keys.Add(($"{prefix}:Destinations:{d}:Weight", Text(rule.Route.Count == 1 ? 1 : destination.Weight)));
            if (ns is not null)
            {
                keys.Add(($"Services:{service}:Namespace", ns));
            }
        }

        if (rule.Timeout is { } timeout)
        {
            keys.Add(($"{prefix}:Timeout", Text(timeout)));
        }

        // Absent retries are Istio's built-in policy (2 attempts on its default conditions); attempts: 0 is none.
        var retries = rule.Retries ?? new RetryOptions();
        keys.Add(($"{prefix}:Retries:Attempts", Text(retries.Attempts)));
        if (retries.PerTryTimeout is { } perTry)
        {
            keys.Add(($"{prefix}:Retries:PerTryTimeout", Text(perTry)));
        }

        if (retries.RetryOn is { } retryOn)
        {
            keys.Add(($"{prefix}:Retries:RetryOn", retryOn));
        }

        if (rule.Rewrite is { } rewrite)
        {
            if (rewrite.Uri is { } uri)
            {
                keys.Add(($"{prefix}:Rewrite:Uri", uri));
            }

            if (rewrite.Authority is { } authority)
            {
                keys.Add(($"{prefix}:Rewrite:Authority", authority));
            }
        }

        foreach (var (side, operations) in (ValueTuple<string, HeaderOperationsOptions?>[])[("Request", rule.Headers?.Request), ("Response", rule.Headers?.Response)])
        {
            if (operations is null)
            {
                continue;
            }

            keys.AddRange(operations.Set.Select(h => ($"{prefix}:Headers:{side}:Set:{h.Key}", h.Value)));
            keys.AddRange(operations.Add.Select(h => ($"{prefix}:Headers:{side}:Add:{h.Key}", h.Value)));
            keys.AddRange(operations.Remove.Select((name, i) => ($"{prefix}:Headers:{side}:Remove:{i}", name)));
        }

        if (rule.Fault is { } fault)
        {
            keys.Add(($"{prefix}:Fault:Delay:Percentage", Text(fault.Delay.Percentage)));
            keys.Add(($"{prefix}:Fault:Delay:FixedDelayMs", Text(fault.Delay.FixedDelayMs)));
            keys.Add(($"{prefix}:Fault:Abort:Percentage", Text(fault.Abort.Percentage)));
            keys.Add(($"{prefix}:Fault:Abort:HttpStatus", Text(fault.Abort.HttpStatus)));
            if (fault.Abort.GrpcStatus is int grpc)
            {
                keys.Add(($"{prefix}:Fault:Abort:GrpcStatus", Text(grpc)));
            }
        }

        return keys;
    }

    private static IEnumerable<(string, string)> StringMatchKeys(string prefix, StringMatchOptions match)
    {
        if (match.Exact is { } exact)
        {
            yield return ($"{prefix}:Exact", exact);
        }
        else if (match.Prefix is { } p)
        {
            yield return ($"{prefix}:Prefix", p);
        }
        else if (match.Regex is { } regex)
        {
            yield return ($"{prefix}:Regex", regex);
        }
        else
        {
            yield return ($"{prefix}:Present", "true");
        }
    }
}

/// <summary>The sidecar's identity for Istio's selectors, read from the configuration before the resources are.</summary>
internal static class IstioWorkloads
{
    private const string P = MeshLiteOptions.SectionName + ":";

    public static IstioWorkload From(IConfiguration configuration)
    {
        var serviceName = configuration[P + "ServiceName"] ?? "";
        var ns = MeshLiteSettings.NamespaceOf(configuration);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["app"] = configuration[P + "App"] ?? serviceName };
        if (configuration[P + "Version"] is { } version)
        {
            labels["version"] = version;
        }

        foreach (var label in configuration.GetSection(P + "Istio:Labels").GetChildren())
        {
            labels[label.Key] = label.Value ?? "";
        }

        var registry = configuration.GetSection(P + "Services").GetChildren()
            .ToDictionary(s => s.Key, s => s["Namespace"] ?? "default", StringComparer.OrdinalIgnoreCase);
        var defaults = new MeshLiteOptions();
        return new IstioWorkload(ns, labels, configuration[P + "ClusterDomain"] ?? defaults.ClusterDomain,
            configuration[P + "Istio:RootNamespace"] ?? defaults.Istio.RootNamespace, registry);
    }
}
