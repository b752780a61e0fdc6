using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Tracing;
using MeshLite.Tracing.Breaks;
using MeshLite.Tracing.Keep;
using MeshLite.Tracing.Sampling;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MeshLite.Benchmarks.Tracing;

/// <summary>
/// One hop's tracing work, start to finish: x-request-id, extraction, the sampling decision, the span with every Envoy
/// and Istio tag (when sampled), and the header writes. Unsampled requests should allocate only the forwarded headers.
/// </summary>
[MemoryDiagnoser]
public class HopTracerBenchmarks
{
    private const string RequestIdValue = "84961386-6d84-429d-98bd-c5aee93b5c88";
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private (HopTracer Tracer, SpanTagger Tagger) _sampled;
    private (HopTracer Tracer, SpanTagger Tagger) _unsampled;
    private TracerProvider _provider = null!;
    private DefaultHttpContext _context = null!;
    private MeshRoute _route = null!;

    [GlobalSetup]
    public void Setup()
    {
        _provider = Sdk.CreateTracerProviderBuilder().AddSource(MeshLiteTelemetry.SourceName).SetSampler(new AlwaysOnSampler()).Build()!;
        _sampled = Create("100");
        _unsampled = Create("0");
        _route = BenchmarkSidecar.InboundRoute;
        _context = new DefaultHttpContext();
        _context.Request.Method = "GET";
        _context.Request.Scheme = "http";
        _context.Request.Host = new HostString("svc:80");
        _context.Request.Path = "/orders/42";
        _context.Request.Protocol = "HTTP/1.1";
        _context.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback;
    }

    [GlobalCleanup]
    public void Cleanup() => _provider.Dispose();

    [Benchmark(Baseline = true)]
    public object NotSampled() => Run(_unsampled, parent: null);

    [Benchmark]
    public object NotSampled_ContinuingATrace() => Run(_unsampled, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");

    [Benchmark]
    public object Sampled_AllTags() => Run(_sampled, parent: null);

    [Benchmark]
    public object Sampled_AllTags_ContinuingATrace() => Run(_sampled, TraceParent);

    private HopFeature Run((HopTracer Tracer, SpanTagger Tagger) tracing, string? parent)
    {
        var headers = _context.Request.Headers;
        headers.Clear();
        headers["x-request-id"] = RequestIdValue;
        headers["user-agent"] = "bench/1.0";
        if (parent is not null)
        {
            headers["traceparent"] = parent;
        }

        var hop = new HopFeature(ListenerKind.Inbound, _route, Stopwatch.GetTimestamp());
        tracing.Tracer.Start(_context, hop);
        hop.StatusCode = 200;
        tracing.Tagger.OnHopCompleted(hop, _context);
        return hop;
    }

    private static (HopTracer, SpanTagger) Create(string sampling)
    {
        var live = new LiveSettings(BenchmarkSidecar.Settings(("MeshLite:Tracing:Sampling", sampling)), TimeProvider.System);
        var metrics = new MeshLiteMetrics();
        var policy = new LiveTracingPolicy(live);
        var inflight = new InflightInbound();
        var tracer = new HopTracer(policy, metrics, new BreakClassifier(live, inflight), new BreakReports(live, metrics), NullLogger<HopTracer>.Instance);
        return (tracer, new SpanTagger(live, policy, new TraceKeeper(live, inflight, metrics), metrics, TimeProvider.System));
    }
}
