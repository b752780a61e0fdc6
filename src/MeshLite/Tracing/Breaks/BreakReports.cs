using System.Collections.Concurrent;
using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using Prometheus;

namespace MeshLite.Tracing.Breaks;

/// <summary>
/// What the break detector found, kept: each break is counted (<c>meshlite_propagation_breaks_total</c>), noted as a
/// <c>propagation_break</c> event on the inbound span that caused it, and summarised per inbound route and destination
/// at <c>/debug/propagation</c> with a diagnosis and example request ids.
/// </summary>
internal sealed class BreakReports
{
    private const int MaxReportKeys = 512;
    private const int MaxRouteKeys = 64;

    private readonly string _serviceName;
    private readonly Counter _breaks;
    private readonly ConcurrentDictionary<(string Route, string Destination), BreakReport> _reports = new();
    private readonly ConcurrentDictionary<string, string> _routes = new(StringComparer.Ordinal);
    private long _unattributed;

    public BreakReports(LiveSettings live, MeshLiteMetrics metrics)
    {
        _serviceName = live.Current.ServiceName;
        _breaks = metrics.Factory.CreateCounter("meshlite_propagation_breaks_total",
            "Outbound calls of the local app that did not continue the trace of the request it was serving.", ["kind", "destination_service", "confidence"]);
    }

    /// <summary>Outbound calls made while no inbound request was in flight (a background job, a timer): nothing to blame.</summary>
    public long Unattributed => Interlocked.Read(ref _unattributed);

    /// <summary>Counts the break, notes it on the inbound span and in the report.</summary>
    public void Record(HopFeature outbound, in BreakVerdict verdict, string? requestId)
    {
        if (verdict.Kind == BreakKind.Unattributed)
        {
            Interlocked.Increment(ref _unattributed);
        }

        if (!verdict.IsBreak)
        {
            return;
        }

        var destination = outbound.Route.ServiceName ?? outbound.Route.ClusterName ?? "unknown";
        var kind = BreakVerdict.Name(verdict.Kind);
        _breaks.WithLabels(kind, destination, verdict.Confidence).Inc();
        verdict.Candidate?.Span?.AddEvent(new ActivityEvent("propagation_break", tags: new ActivityTagsCollection
        {
            ["destination"] = destination,
            ["kind"] = kind,
            ["confidence"] = verdict.Confidence,
        }));

        var route = verdict.Candidate is { } cause ? RouteKey(cause.InboundMethod ?? "-", cause.InboundPath) : "unknown";
        var key = (route, destination);
        if (!_reports.TryGetValue(key, out var report))
        {
            if (_reports.Count >= MaxReportKeys)
            {
                return;
            }

            report = _reports.GetOrAdd(key, static k => new BreakReport(k.Route, k.Destination));
        }

        // The inbound request's id is the one to search logs and traces for; the broken call has none worth keeping.
        report.Add(verdict, verdict.Candidate?.RequestId ?? requestId ?? outbound.RequestId);
    }

    /// <summary>A bounded key for the inbound request: method and first path segment (<c>GET /orders</c>).</summary>
    private string RouteKey(string method, string? path)
    {
        var end = path is { Length: > 1 } ? path.IndexOf('/', 1) : -1;
        var segment = path is not { Length: > 1 } ? "/" : end < 0 ? path : path[..end];
        var key = string.Concat(method, " ", segment);
        if (_routes.TryGetValue(key, out var known))
        {
            return known;
        }

        return _routes.Count < MaxRouteKeys ? _routes.GetOrAdd(key, key) : "other";
    }

    public IEnumerable<BreakReport> Reports => _reports.Values.OrderBy(r => r.Route, StringComparer.Ordinal).ThenBy(r => r.Destination, StringComparer.Ordinal);

    public string Diagnose(BreakReport report)
    {
        var (kind, _) = report.Dominant();
        return kind switch
        {
            BreakKind.Missing => $"{_serviceName} calls {report.Destination} without traceparent/x-b3-*; forward the incoming headers.",
            BreakKind.Mismatch => $"{_serviceName} calls {report.Destination} with a trace of its own, not the one it was given; forward the incoming traceparent/x-b3-* instead of starting a new trace.",
            BreakKind.Partial => $"{_serviceName} calls {report.Destination} forwarding only some trace headers (missing {report.LastMissing}); forward all of them.",
            _ => $"{_serviceName} → {report.Destination}: no breaks.",
        };
    }
}

/// <summary>Breaks seen for one (inbound route, destination): counts by kind, confidence, and the last example request ids.</summary>
internal sealed class BreakReport(string route, string destination)
{
    private const int Examples = 5;
    private readonly Lock _gate = new();
    private readonly Queue<string> _examples = new();
    private long _missing;
    private long _mismatch;
    private long _partial;

    public string Route { get; } = route;
    public string Destination { get; } = destination;
    public string? LastMissing { get; private set; }
    public string LastConfidence { get; private set; } = "certain";

    public long Missing => Interlocked.Read(ref _missing);
    public long Mismatch => Interlocked.Read(ref _mismatch);
    public long Partial => Interlocked.Read(ref _partial);

    public void Add(in BreakVerdict verdict, string requestId)
    {
        _ = verdict.Kind switch
        {
            BreakKind.Missing => Interlocked.Increment(ref _missing),
            BreakKind.Mismatch => Interlocked.Increment(ref _mismatch),
            _ => Interlocked.Increment(ref _partial),
        };
        lock (_gate)
        {
            LastConfidence = verdict.Confidence;
            if (verdict.Missing is not null)
            {
                LastMissing = verdict.Missing;
            }

            _examples.Enqueue(requestId);
            if (_examples.Count > Examples)
            {
                _examples.Dequeue();
            }
        }
    }

    public string[] ExampleRequestIds()
    {
        lock (_gate)
        {
            return [.. _examples];
        }
    }

    public (BreakKind Kind, long Count) Dominant()
    {
        var (missing, mismatch, partial) = (Missing, Mismatch, Partial);
        return missing >= mismatch && missing >= partial ? (BreakKind.Missing, missing)
            : mismatch >= partial ? (BreakKind.Mismatch, mismatch)
            : (BreakKind.Partial, partial);
    }
}
