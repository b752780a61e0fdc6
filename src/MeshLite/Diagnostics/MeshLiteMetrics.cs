using MeshLite.Configuration;
using MeshLite.Hops;
using Prometheus;

namespace MeshLite.Diagnostics;

/// <summary>
/// The sidecar's Prometheus registry (one per sidecar, so several can share a process in tests) and MeshLite's own
/// health metrics: where spans went, how sampling decided, what trace context was refused, what the access log dropped.
/// </summary>
internal sealed class MeshLiteMetrics : IDisposable
{
    private readonly IDisposable _runtimeMetrics;

    private static readonly string[] _decisionReasons = ["random", "parent", "forced", "override", "excluded", "rate_limited"];

    private readonly Counter.Child[] _sampled;
    private readonly Counter.Child[] _notSampled;
    private readonly Counter.Child _invalidW3C;
    private readonly Counter.Child _invalidB3;
    private readonly Counter.Child _invalidB3Multi;
    private readonly Counter _internalErrors;
    private readonly Counter.Child[] _kept;

    public MeshLiteMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        Factory = Prometheus.Metrics.WithCustomRegistry(Registry);

        // prometheus-net attaches the current trace as an exemplar to every observation by default; on a sampled request
        // that is MeshLite's own span, and it would cost each request allocations and a lock for data nobody scrapes.
        Factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = static (_, _) => Exemplar.None };

        var decisions = Factory.CreateCounter("meshlite_trace_decisions_total",
            "Sampling decisions, by outcome and by reason (random, parent, forced, override, excluded, rate_limited).", ["decision", "reason"]);
        _sampled = [.. _decisionReasons.Select(r => decisions.WithLabels("sampled", r))];
        _notSampled = [.. _decisionReasons.Select(r => decisions.WithLabels("not_sampled", r))];
        foreach (var child in _sampled.Concat(_notSampled))
        {
            child.Publish();
        }

        var invalid = Factory.CreateCounter("meshlite_trace_context_invalid_total",
            "Requests whose trace-context headers of a format were malformed, repeated or oversized; that format was ignored and not forwarded.", ["format"]);
        _invalidW3C = invalid.WithLabels("w3c");
        _invalidB3 = invalid.WithLabels("b3");
        _invalidB3Multi = invalid.WithLabels("b3multi");

        SpansStarted = Factory.CreateCounter("meshlite_spans_started_total", "Spans started (sampled requests).");
        SpansEnded = Factory.CreateCounter("meshlite_spans_ended_total", "Spans finished and handed to the exporter queue.");
        SpansExported = Factory.CreateCounter("meshlite_spans_exported_total", "Spans the collector accepted.");
        var dropped = Factory.CreateCounter("meshlite_spans_dropped_total",
            "Spans lost: the export queue was full, the collector failed past the exporter's retries and timeout, or the span ended after shutdown began.", ["reason"]);
        SpansDroppedQueueFull = dropped.WithLabels("queue_full");
        SpansDroppedExportFailed = dropped.WithLabels("export_failed");
        SpansDroppedShutdown = dropped.WithLabels("shutdown");
        SpansDroppedQueueFull.Publish();
        SpansDroppedExportFailed.Publish();
        SpansDroppedShutdown.Publish();
        ExportDuration = Factory.CreateHistogram("meshlite_span_export_duration_seconds", "Time one OTLP export call took.",
            new HistogramConfiguration { Buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        ExportQueueLength = Factory.CreateGauge("meshlite_span_export_queue_length", "Spans waiting to be exported.");
        _internalErrors = Factory.CreateCounter("meshlite_internal_errors_total",
            "Failures inside MeshLite that a request survived, by where they happened (start, proxy, tracing, metrics, access_log).", ["stage"]);
        AccessLogDropped = Factory.CreateCounter("meshlite_access_log_dropped_total", "Access-log lines dropped because the writer could not keep up.");
        var kept = Factory.CreateCounter("meshlite_spans_kept_total",
            "Spans of hops that were not sampled, exported when they ended because they matched a keep rule (or a hop after them on the trace did).", ["reason"]);
        _kept = [.. Enum.GetValues<KeepReason>().Select(r => kept.WithLabels(SamplingDecision.KeepReasonName(r)))];
        foreach (var child in _kept.Skip(1))
        {
            child.Publish();
        }

        KeepRefused = Factory.CreateCounter("meshlite_keep_refused_total",
            "Hops that matched a keep rule but were not kept because Tracing:Keep:MaxTracesPerSecond was spent (error storms).");

        // What prometheus-net already offers: process and GC statistics, and the runtime's own meters for the server's
        // connections (Kestrel) and the runtime, under their usual names. Instruments recorded per request are left
        // out — http.server/client.request.duration, and http.client.open_connections, which moves between idle and
        // active twice per proxied request: listening to them cost ~7 % of a sidecar's CPU in a profile.
        DotNetStats.Register(Registry);
        _runtimeMetrics = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = Registry,
            InstrumentFilterPredicate = instrument => instrument.Meter.Name switch
            {
                "Microsoft.AspNetCore.Server.Kestrel" => instrument.Name is "kestrel.active_connections" or "kestrel.rejected_connections",
                "System.Runtime" => true,
                _ => false,
            },
        });
    }

    public void Dispose() => _runtimeMetrics.Dispose();

    public CollectorRegistry Registry { get; }
    public IMetricFactory Factory { get; }
    public Counter SpansStarted { get; }
    public Counter SpansEnded { get; }
    public Counter SpansExported { get; }
    public Counter.Child SpansDroppedQueueFull { get; }
    public Counter.Child SpansDroppedExportFailed { get; }
    public Counter.Child SpansDroppedShutdown { get; }
    public Histogram ExportDuration { get; }
    public Gauge ExportQueueLength { get; }
    public Counter AccessLogDropped { get; }
    public Counter KeepRefused { get; }

    public void RecordKept(KeepReason reason) => _kept[(int)reason].Inc();

    public void RecordInternalError(string stage) => _internalErrors.WithLabels(stage).Inc();

    public void RecordDecision(SamplingDecision decision)
    {
        var index = decision.Reason switch
        {
            SamplingReason.Random or SamplingReason.RandomHit => 0,
            SamplingReason.Parent => 1,
            SamplingReason.ClientForced or SamplingReason.ServiceForced => 2,
            SamplingReason.Override => 3,
            SamplingReason.RateLimited => 5,
            _ => 4,
        };
        (decision.Sampled ? _sampled : _notSampled)[index].Inc();
    }

    public void RecordInvalid(TraceFormat formats)
    {
        if ((formats & TraceFormat.W3C) != 0)
        {
            _invalidW3C.Inc();
        }

        if ((formats & TraceFormat.B3Single) != 0)
        {
            _invalidB3.Inc();
        }

        if ((formats & TraceFormat.B3Multi) != 0)
        {
            _invalidB3Multi.Inc();
        }
    }
}
