using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace MeshLite.Configuration;

/// <summary>
/// The validated configuration plus what is derived from it once (identity, node id, FQDN), shared by every request.
/// </summary>
internal sealed class MeshLiteSettings
{
    private MeshLiteSettings(MeshLiteOptions options)
    {
        Options = options;
        ServiceName = options.ServiceName!;
        Namespace = options.Namespace;
        PodName = options.PodName ?? Environment.GetEnvironmentVariable("POD_NAME") ?? Dns.GetHostName();
        PodIp = options.PodIp ?? Environment.GetEnvironmentVariable("INSTANCE_IP") ?? FirstHostAddress();
        ServiceFqdn = $"{ServiceName}.{Namespace}.svc.{options.ClusterDomain}";
        NodeId = $"sidecar~{PodIp}~{PodName}.{Namespace}~{Namespace}.svc.{options.ClusterDomain}";
        AppPort = options.Inbound.AppPort!.Value;
        InboundClusterName = $"inbound|{AppPort}||";
        InboundOperationName = $"{ServiceFqdn}:{options.ServicePort}/*";
        RegistryOnly = string.Equals(options.OutboundTrafficPolicy, OutboundTrafficPolicies.RegistryOnly, StringComparison.OrdinalIgnoreCase);
    }

    public MeshLiteOptions Options { get; }
    public string ServiceName { get; }
    public string Namespace { get; }
    public string PodName { get; }
    public string PodIp { get; }
    public string ServiceFqdn { get; }
    public string NodeId { get; }
    public int AppPort { get; }
    public string InboundClusterName { get; }
    public string InboundOperationName { get; }
    public bool RegistryOnly { get; }

    /// <summary>Binds the <c>MeshLite</c> section, applies the downward-API defaults, validates, and throws one exception naming every bad key.</summary>
    public static MeshLiteSettings Load(IConfiguration configuration) => new(Bind(configuration));

    /// <summary>
    /// Loads an edited configuration for a running sidecar. What only a restart can change (identity, listeners,
    /// limits, the exporter) keeps its running value, and the keys that were edited anyway are named in
    /// <paramref name="restartRequired"/>; everything else is the new configuration.
    /// </summary>
    public static MeshLiteSettings Reload(MeshLiteSettings running, IConfiguration configuration, out IReadOnlyList<string> restartRequired)
    {
        var next = Bind(configuration);
        restartRequired = RestartOnlyKeys.KeepRunningValues(running.Options, next);
        return new MeshLiteSettings(next);
    }

    private static MeshLiteOptions Bind(IConfiguration configuration)
    {
        var options = new MeshLiteOptions();
        try
        {
            configuration.GetSection(MeshLiteOptions.SectionName).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message already names the key and the value ("Failed to convert configuration value 'x' at 'MeshLite:Inbound:Port' ...").
            throw new MeshLiteConfigurationException(ex.Message, ex);
        }

        options.Namespace = NamespaceOf(configuration);

        foreach (var (name, service) in options.Services)
        {
            // "Retries": {} binds to nothing, yet it asks for Istio's built-in policy.
            if (service.Retries is null && HasKey(configuration, $"{MeshLiteOptions.SectionName}:Services:{name}:Retries"))
            {
                service.Retries = new RetryOptions();
            }
        }

        if (options.Inbound.AppPort is null && options.DemoApp.Port is int echoPort)
        {
            options.Inbound.AppPort = echoPort;
        }

        var errors = MeshLiteOptionsValidator.Validate(options);
        if (errors.Count > 0)
        {
            throw new MeshLiteConfigurationException(errors);
        }

        return options;
    }

    /// <summary>The sidecar's namespace: <c>MeshLite:Namespace</c>, else the downward API's <c>POD_NAMESPACE</c>, else <c>default</c>.</summary>
    public static string NamespaceOf(IConfiguration configuration) =>
        configuration[$"{MeshLiteOptions.SectionName}:Namespace"]
        ?? (Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 } podNamespace ? podNamespace : new MeshLiteOptions().Namespace);

    /// <summary>Whether a key is present, even as an empty object (which a JSON file gives as a key with a null value).</summary>
    private static bool HasKey(IConfiguration configuration, string key) =>
        configuration is IConfigurationRoot root && root.Providers.Any(p => p.TryGet(key, out _));

    private static string FirstHostAddress()
    {
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
                {
                    continue;
                }

                foreach (var address in nic.GetIPProperties().UnicastAddresses)
                {
                    if (address.Address.AddressFamily == AddressFamily.InterNetwork)
                    {
                        return address.Address.ToString();
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
            // Fall through to loopback: identity is cosmetic and must never stop start-up.
        }

        return "127.0.0.1";
    }
}
