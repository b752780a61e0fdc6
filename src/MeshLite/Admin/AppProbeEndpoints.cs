using System.Net.Security;
using System.Net.Sockets;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Listeners;

namespace MeshLite.Admin;

/// <summary>
/// <c>GET /app-health/&lt;container&gt;/readyz|livez|startupz</c> on the metrics port: the app's own probe, run from inside
/// the pod against 127.0.0.1, as Istio's agent answers the probes it rewrote. The kubelet probes the pod's IP, which an
/// app bound to loopback (so that only its sidecar reaches it) does not answer.
/// </summary>
internal sealed class AppProbeEndpoints : IDisposable
{
    private static readonly TimeSpan _kubeletDefaultTimeout = TimeSpan.FromSeconds(1);

    private readonly IReadOnlyDictionary<string, AppProbe> _probes;
    private readonly HttpMessageInvoker _client;

    public AppProbeEndpoints(MeshLiteSettings settings)
    {
        _probes = AppProbes.Parse(settings.Options.AppProbes);
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),

            // The kubelet does not verify an HTTPS probe's certificate either: the probe asks "is it up", not "who is it".
#pragma warning disable CA5359
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
#pragma warning restore CA5359
        });
    }

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(AppProbes.PathPrefix + "{container}/{kind}", static (HttpContext context) =>
            context.RequestServices.GetRequiredService<AppProbeEndpoints>().ProbeAsync(context))
            .WithMetadata(new ListenerMetadata(ListenerKind.Metrics));
    }

    private async Task ProbeAsync(HttpContext context)
    {
        context.Response.ContentType = "text/plain";
        if (!_probes.TryGetValue(context.Request.Path.Value!, out var probe))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync("no such app probe\n");
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(probe.TimeoutSeconds is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : _kubeletDefaultTimeout);
        var (status, detail) = probe.HttpGet is { } http ? await HttpGetAsync(http, timeout.Token) : await TcpConnectAsync(probe.TcpSocket!, timeout.Token);
        context.Response.StatusCode = status;
        await context.Response.WriteAsync(detail + "\n");
    }

    /// <summary>As the kubelet: 200–399 is healthy, answered as the app answered; anything else is 503.</summary>
    private async Task<(int Status, string Detail)> HttpGetAsync(HttpGetProbe http, CancellationToken cancellationToken)
    {
        var scheme = string.Equals(http.Scheme, "HTTPS", StringComparison.OrdinalIgnoreCase) ? "https" : "http";
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{scheme}://127.0.0.1:{http.Port}{http.Path ?? "/"}");
        request.Headers.TryAddWithoutValidation("User-Agent", "kube-probe/meshlite");
        foreach (var header in http.HttpHeaders ?? [])
        {
            request.Headers.Remove(header.Name);
            request.Headers.TryAddWithoutValidation(header.Name, header.Value);
        }

        try
        {
            using var response = await _client.SendAsync(request, cancellationToken);
            var code = (int)response.StatusCode;
            return code is >= 200 and < 400 ? (code, $"app answered {code}") : (StatusCodes.Status503ServiceUnavailable, $"app answered {code}");
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return (StatusCodes.Status503ServiceUnavailable, $"app did not answer: {ex.Message}");
        }
    }

    private static async Task<(int Status, string Detail)> TcpConnectAsync(TcpSocketProbe tcp, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, tcp.Port, cancellationToken);
            return (StatusCodes.Status200OK, $"port {tcp.Port} open");
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return (StatusCodes.Status503ServiceUnavailable, $"port {tcp.Port}: {ex.Message}");
        }
    }

    public void Dispose() => _client.Dispose();
}
