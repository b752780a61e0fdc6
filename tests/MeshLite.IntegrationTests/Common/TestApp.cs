using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace MeshLite.IntegrationTests.Common;

/// <summary>An app on real Kestrel (127.0.0.1, port 0) that records what it received and answers as told.</summary>
public sealed class TestApp : IAsyncDisposable
{
    /// <summary>The headers an app must forward for the trace to continue (Istio's list, plus baggage).</summary>
    public static readonly string[] TraceHeaderNames =
    [
        "x-request-id", "traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
        "x-b3-flags", "b3", "x-ot-span-context", "baggage", "x-client-trace-id",
    ];

    private static readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });

    private readonly WebApplication _app;

    private TestApp(WebApplication app) => _app = app;

    public int Port { get; private set; }
    public ConcurrentQueue<Dictionary<string, string>> Received { get; } = new();

    /// <summary>For a forwarding app: the response headers its calls got back from its sidecar.</summary>
    public ConcurrentQueue<Dictionary<string, string>> ResponsesReceived { get; } = new();

    public static async Task<TestApp> StartAsync(Func<HttpContext, Task> handler, HttpProtocols protocols = HttpProtocols.Http1)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        ListenOptions? listen = null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => { o.Protocols = protocols; listen = o; }));
        var app = builder.Build();
        var testApp = new TestApp(app);
        app.Run(async context =>
        {
            testApp.Received.Enqueue(context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()));
            await handler(context);
        });
        await app.StartAsync();
        testApp.Port = ((IPEndPoint)listen!.EndPoint).Port;
        return testApp;
    }

    public static Task<TestApp> StartEchoAsync(string text = "ok") => StartAsync(context => context.Response.WriteAsync(text));

    /// <summary>
    /// An app that calls <paramref name="next"/> through its sidecar's outbound listener for every request, sending the
    /// headers <paramref name="outgoing"/> makes from the incoming request (default: Istio's trace headers, copied), and
    /// answers with the downstream status, or with what <paramref name="answer"/> makes of it (an app that hides errors).
    /// </summary>
    public static async Task<TestApp> StartForwardingAsync(string next, Func<int> outboundPort, Func<HttpContext, IEnumerable<KeyValuePair<string, string>>>? outgoing = null,
        Func<int, int>? answer = null)
    {
        TestApp? self = null;
        self = await StartAsync(async context =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outboundPort()}{context.Request.Path}{context.Request.QueryString}");
            request.Headers.Host = next;
            foreach (var (name, value) in (outgoing ?? Copy(TraceHeaderNames))(context))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await _client.SendAsync(request);
            self!.ResponsesReceived.Enqueue(response.Headers.Concat(response.Content.Headers).ToDictionary(h => h.Key.ToLowerInvariant(), h => string.Join(",", h.Value)));
            context.Response.StatusCode = answer?.Invoke((int)response.StatusCode) ?? (int)response.StatusCode;
            await context.Response.WriteAsync(await response.Content.ReadAsStringAsync());
        });
        return self;
    }

    /// <summary>Copies the named headers from the incoming request, as an app that forwards them does.</summary>
    public static Func<HttpContext, IEnumerable<KeyValuePair<string, string>>> Copy(IReadOnlyCollection<string> names) =>
        context => names.Where(n => context.Request.Headers.ContainsKey(n)).Select(n => KeyValuePair.Create(n, context.Request.Headers[n].ToString()));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
