using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests.Common;

/// <summary>
/// A chain of services, each an app with a MeshLite sidecar process beside it: the client calls the first sidecar's
/// inbound listener, each app calls the next service through its own sidecar's outbound listener, and every sidecar
/// exports to one OTLP receiver (alternating gRPC and HTTP).
/// </summary>
public sealed class Mesh : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private Mesh(OtlpReceiver receiver) => Receiver = receiver;

    public OtlpReceiver Receiver { get; }
    public List<SidecarProcess> Sidecars { get; } = [];
    public List<TestApp> Apps { get; } = [];
    public string EntryAddress => $"http://127.0.0.1:{Sidecars[0].InboundPort}";

    /// <param name="services">The chain, entry first.</param>
    /// <param name="config">Settings for every sidecar.</param>
    /// <param name="perService">Settings for one sidecar, by service name.</param>
    /// <param name="forwardedHeaders">The headers the app of a service forwards (default: all of Istio's list).</param>
    /// <param name="outgoing">For a service, the headers its app sends on its call, made from the incoming request (overrides <paramref name="forwardedHeaders"/>).</param>
    /// <param name="lastApp">How the last service's app answers (default: 200 "end of chain").</param>
    /// <param name="answer">For a service, the status its app answers given the status it got from its call (default: the same).</param>
    public static async Task<Mesh> StartChainAsync(
        string[] services,
        IDictionary<string, string?>? config = null,
        IDictionary<string, IDictionary<string, string?>>? perService = null,
        Func<string, IReadOnlyCollection<string>?>? forwardedHeaders = null,
        Func<string, Func<HttpContext, IEnumerable<KeyValuePair<string, string>>>?>? outgoing = null,
        Func<HttpContext, Task>? lastApp = null,
        Func<string, Func<int, int>?>? answer = null)
    {
        var mesh = new Mesh(await OtlpReceiver.StartAsync());
        mesh._owned.Add(mesh.Receiver);
        var sidecars = new SidecarProcess?[services.Length];
        var apps = new TestApp[services.Length];
        for (var i = services.Length - 1; i >= 0; i--)
        {
            var index = i;
            apps[i] = i == services.Length - 1
                ? lastApp is null ? await TestApp.StartEchoAsync("end of chain") : await TestApp.StartAsync(lastApp)
                : await TestApp.StartForwardingAsync(services[i + 1], () => sidecars[index]!.OutboundPort,
                    outgoing?.Invoke(services[i]) ?? (forwardedHeaders?.Invoke(services[i]) is { } names ? TestApp.Copy(names) : null),
                    answer?.Invoke(services[i]));
            mesh._owned.Add(apps[i]);

            var settings = new Dictionary<string, string?>
            {
                ["MeshLite:ServiceName"] = services[i],
                ["MeshLite:Inbound:AppPort"] = apps[i].Port.ToString(),
                ["MeshLite:Inbound:Port"] = "0",
                ["MeshLite:Inbound:BindAddress"] = "127.0.0.1",
                ["MeshLite:Outbound:Port"] = "0",
                ["MeshLite:Admin:Port"] = "0",
                ["MeshLite:Metrics:Port"] = "0",
                ["MeshLite:PodName"] = services[i] + "-7d4f9",
                ["MeshLite:PodIp"] = "127.0.0." + (i + 10),
                ["MeshLite:Tracing:Sampling"] = "100",
                ["MeshLite:Tracing:Otlp:Endpoint"] = i % 2 == 0 ? mesh.Receiver.GrpcEndpoint : mesh.Receiver.HttpEndpoint,
                ["MeshLite:Tracing:Otlp:Protocol"] = i % 2 == 0 ? "grpc" : "http/protobuf",
                ["MeshLite:Tracing:Otlp:ScheduledDelayMilliseconds"] = "100",
                ["Logging:LogLevel:Default"] = "Information",
            };
            if (i < services.Length - 1)
            {
                settings[$"MeshLite:Services:{services[i + 1]}:Endpoints:0"] = $"http://127.0.0.1:{sidecars[i + 1]!.InboundPort}";
            }

            foreach (var (k, v) in config ?? new Dictionary<string, string?>())
            {
                settings[k] = v;
            }

            if (perService?.TryGetValue(services[i], out var own) == true)
            {
                foreach (var (k, v) in own)
                {
                    settings[k] = v;
                }
            }

            sidecars[i] = await SidecarProcess.StartAsync(settings);
            mesh._owned.Add(sidecars[i]!);
        }

        mesh.Sidecars.AddRange(sidecars!);
        mesh.Apps.AddRange(apps);
        return mesh;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }
}
