using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MeshLite.Tools;

/// <summary>The ports of one service of a local mesh: its sidecar's four listeners and its app.</summary>
internal sealed record ServicePorts(int Inbound, int Outbound, int Admin, int Metrics, int App);

/// <summary>
/// What <c>meshlite mesh</c> will start, worked out before anything starts: free ports for every service, and each
/// sidecar's settings and each app's command line. Pure apart from asking the kernel for free ports.
/// </summary>
internal sealed class MeshPlan
{
    private MeshPlan(MeshFile mesh, Dictionary<string, ServicePorts> ports, string? istio)
    {
        Mesh = mesh;
        Ports = ports;
        Istio = istio;
    }

    public MeshFile Mesh { get; }

    public IReadOnlyDictionary<string, ServicePorts> Ports { get; }

    /// <summary>The folder of Istio resources every sidecar applies, if any.</summary>
    public string? Istio { get; }

    public string Entry => $"http://127.0.0.1:{Ports[Mesh.Entry!].Inbound}{Mesh.EntryPath}";

    public static MeshPlan Create(MeshFile mesh, string? istio = null)
    {
        using var free = new FreePorts();
        var ports = mesh.Services.ToDictionary(s => s.Key, s => new ServicePorts(free.Next(), free.Next(), free.Next(), free.Next(), 0));
        foreach (var (name, service) in mesh.Services)
        {
            ports[name] = ports[name] with { App = service.Port ?? free.Next() };
        }

        return new MeshPlan(mesh, ports, istio is null ? null : Path.GetFullPath(istio));
    }

    /// <summary>How to start a service's own app: its command with <c>{port}</c> and <c>{outbound}</c> filled in, its outbound calls through its sidecar.</summary>
    public ProcessStartInfo UserApp(string name, string command)
    {
        var ports = Ports[name];
        var outbound = $"http://127.0.0.1:{ports.Outbound}";
        var start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", command.Replace("{port}", ports.App.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal).Replace("{outbound}", outbound, StringComparison.Ordinal) } };
        start.Environment["PORT"] = ports.App.ToString(CultureInfo.InvariantCulture);
        start.Environment["HTTP_PROXY"] = outbound;
        start.Environment["http_proxy"] = outbound;
        start.Environment["NO_PROXY"] = "localhost";
        start.Environment["MESHLITE_OUTBOUND"] = outbound;
        return start;
    }

    /// <summary>The <c>MeshLite:*</c> settings of one service's sidecar: its ports, the others as its registry, its demo app, the file's overrides.</summary>
    public Dictionary<string, string> SidecarSettings(string name, string otlp)
    {
        var service = Mesh.Services[name];
        var p = Ports[name];
        var c = CultureInfo.InvariantCulture;
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ServiceName"] = name,
            ["PodName"] = name + "-0",
            ["PodIp"] = "127.0.0.1",
            ["Inbound:Port"] = p.Inbound.ToString(c),
            ["Inbound:BindAddress"] = "127.0.0.1",
            ["Inbound:AppPort"] = p.App.ToString(c),
            ["Outbound:Port"] = p.Outbound.ToString(c),
            ["Admin:Port"] = p.Admin.ToString(c),
            ["Metrics:Port"] = p.Metrics.ToString(c),
            ["Metrics:BindAddress"] = "127.0.0.1",
            ["Tracing:Otlp:Endpoint"] = otlp,
            ["Tracing:Otlp:ScheduledDelayMilliseconds"] = "500",

            // No load balancer routes to a local mesh, so nobody needs the drain period: Ctrl+C stops it at once.
            ["TerminationDrainDuration"] = "00:00:00",
        };
        foreach (var (other, op) in Ports.Where(o => o.Key != name))
        {
            settings[$"Services:{other}:Endpoints:0"] = $"http://127.0.0.1:{op.Inbound}";
        }

        if (service.App is { } app)
        {
            settings["DemoApp:Port"] = p.App.ToString(c);
            settings["DemoApp:LatencyMs"] = app.LatencyMs.ToString(c);
            settings["DemoApp:LatencyJitterMs"] = app.LatencyJitterMs.ToString(c);
            settings["DemoApp:ErrorRate"] = app.ErrorRate.ToString(c);
            settings["DemoApp:ErrorStatus"] = app.ErrorStatus.ToString(c);
            settings["DemoApp:Parallel"] = app.Parallel ? "true" : "false";
            settings["DemoApp:ForwardHeaders"] = app.ForwardHeaders ? "true" : "false";
            if (app.ResponseBytes is int bytes)
            {
                settings["DemoApp:ResponseBytes"] = bytes.ToString(c);
            }

            for (var i = 0; i < app.Calls.Count; i++)
            {
                settings[$"DemoApp:Calls:{i}"] = app.Calls[i];
            }
        }

        if (Istio is not null)
        {
            settings["Istio:Path"] = Istio;
        }

        foreach (var (key, value) in Mesh.Sidecar.Concat(service.Sidecar))
        {
            settings[key] = value;
        }

        return settings;
    }
}

/// <summary>
/// Hands out ports the kernel says are free, holding each one until disposed so that no two handed out are the same
/// (a port released at once can be handed out again by the next bind to port 0).
/// </summary>
internal sealed class FreePorts : IDisposable
{
    private readonly List<TcpListener> _held = [];

    public int Next()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _held.Add(listener);
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        foreach (var listener in _held)
        {
            listener.Dispose();
        }
    }
}

/// <summary>Whether a port can be bound on loopback now.</summary>
internal static class LoopbackPort
{
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
