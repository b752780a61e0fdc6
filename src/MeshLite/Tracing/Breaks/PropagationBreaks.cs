using System.Collections.Concurrent;
using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;
using Prometheus;
using MeshLite.Diagnostics;

namespace MeshLite.Tracing.Breaks;

public enum BreakKind : byte
{
    Ok,
    Unattributed,
    Missing,
    Mismatch,
    Partial,
}

public enum StitchMode : byte
{
    Off,
    Link,
    Parent,
}

/// <summary>What the detector concluded about one outbound call.</summary>
internal readonly record struct BreakVerdict(BreakKind Kind, HopFeature? Candidate, string Confidence, string? Missing)
{
    public bool IsBreak => Kind is BreakKind.Missing or BreakKind.Mismatch or BreakKind.Partial;

    public static string Name(BreakKind kind) => kind switch
    {
        BreakKind.Missing => "missing",
        BreakKind.Mismatch => "mismatch",
        BreakKind.Partial => "partial",
        BreakKind.Unattributed => "unattributed",
        _ => "ok",
    };
}

/// <summary>
/// Finds the service that breaks traces. The sidecar sees both sides of its app: the requests coming in (with the ids
/// it gave them) and the calls going out. A call that carries no context, or a context of no request in flight, or only
/// part of what the app was given, is a break; the request that caused it is the in-flight one (certain when it is the
/// only one, else the most recent). Breaks are counted, tagged and linked on the CLIENT span, noted on the inbound span,
/// and summarised at <c>/debug/propagation</c>.
/// </summary>
internal sealed class PropagationBreaks
{
    private const int MaxReportKeys = 512;
    private const int MaxRouteKeys = 64;

    private readonly InflightInbound _inflight;
    private TraceFormat _injected;
    private readonly string _serviceName;
    private readonly Counter _breaks;
    private readonly ConcurrentDictionary<(string Route, string Destination), BreakReport> _reports = new();
    private readonly ConcurrentDictionary<string, string> _routes = new(StringComparer.Ordinal);
    private long _unattributed;

    public PropagationBreaks(LiveSettings live, InflightInbound inflight, MeshLiteMetrics metrics)
    {
        _inflight = inflight;
        _serviceName = live.Current.ServiceName;
        (Mode, _injected) = Read(live.Current.Options.Tracing);
        live.Changed += settings => (Mode, _injected) = Read(settings.Options.Tracing);

        _breaks = metrics.Factory.CreateCounter("meshlite_propagation_breaks_total",
            "Outbound calls of the local app that did not continue the trace of the request it was serving.", ["kind", "destination_service", "confidence"]);
    }

    public StitchMode Mode { get; private set; }

    private static (StitchMode, TraceFormat) Read(TracingOptions tracing)
    {
        var mode = tracing.Stitch?.ToLowerInvariant() switch
        {
            "link" => StitchMode.Link,
            "parent" => StitchMode.Parent,
            _ => StitchMode.Off,
        };
        return (mode, TraceFormats.FromNames(tracing.Propagation, TracingOptions.DefaultPropagation));
    }

    public long Unattributed => Interlocked.Read(ref _unattributed);

    public void OnInboundStart(HopFeature hop) => _inflight.Add(hop);

    public void OnInboundEnd(HopFeature hop) => _inflight.Remove(hop);

    /// <summary>Classifies an outbound call from the trace context it carries.</summary>
    public BreakVerdict Classify(IHeaderDictionary headers, in ParentContext parent, string? requestId)
    {
        var search = new Search(parent, requestId);
        _inflight.ForEach(ref search, static (ref Search s, HopFeature inbound) =>
        {
            s.Count++;
            if (s.Parent.HasIds && inbound.TraceId == s.Parent.TraceId)
            {
                s.ByTrace = inbound;
            }
            else if (s.RequestId is not null && string.Equals(inbound.RequestId, s.RequestId, StringComparison.Ordinal))
            {
                s.ByRequestId = inbound;
            }

            if (s.Latest is null || inbound.StartTimestamp > s.Latest.StartTimestamp)
            {
                s.SecondLatestStart = s.Latest?.StartTimestamp ?? s.SecondLatestStart;
                s.Latest = inbound;
            }
            else if (inbound.StartTimestamp > s.SecondLatestStart)
            {
                s.SecondLatestStart = inbound.StartTimestamp;
            }
        });

        if (search.Count == 0)
        {
            Interlocked.Increment(ref _unattributed);
            return new BreakVerdict(BreakKind.Unattributed, null, "certain", null);
        }

        if (search.ByTrace is { } continued)
        {
            var missing = MissingFormats(headers, requestId is not null);
            return missing is null
                ? new BreakVerdict(BreakKind.Ok, continued, "certain", null)
                : new BreakVerdict(BreakKind.Partial, continued, "certain", missing);
        }

        var kind = parent.HasIds ? BreakKind.Mismatch : search.ByRequestId is not null ? BreakKind.Partial : BreakKind.Missing;
        if (search.ByRequestId is { } byRequestId)
        {
            return new BreakVerdict(kind, byRequestId, "certain", kind == BreakKind.Partial ? MissingFormats(headers, true) : null);
        }

        // Several requests in flight: the most recent one is the likeliest cause, unless another started at nearly the same time.
        var confidence = search.Count == 1 ? "certain"
            : Stopwatch.GetElapsedTime(search.SecondLatestStart, search.Latest!.StartTimestamp) > TimeSpan.FromMilliseconds(1) ? "likely"
            : "ambiguous";
        return new BreakVerdict(kind, search.Latest, confidence, null);
    }

    /// <summary>Counts the break, notes it on the inbound span and in the report.</summary>
    public void Record(HopFeature outbound, in BreakVerdict verdict, string? requestId)
    {
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

    private string? MissingFormats(IHeaderDictionary headers, bool hasRequestId)
    {
        List<string>? missing = null;
        void Need(bool present, string name)
        {
            if (!present)
            {
                (missing ??= []).Add(name);
            }
        }

        if ((_injected & TraceFormat.W3C) != 0)
        {
            Need(headers.ContainsKey(TraceHeaders.TraceParent), TraceHeaders.TraceParent);
        }

        if ((_injected & TraceFormat.B3Multi) != 0)
        {
            var hasIds = headers.ContainsKey(TraceHeaders.B3TraceId);
            Need(hasIds, "x-b3-*");
            if (hasIds)
            {
                Need(headers.ContainsKey(TraceHeaders.B3Sampled) || headers.ContainsKey(TraceHeaders.B3Flags), TraceHeaders.B3Sampled);
            }
        }

        if ((_injected & TraceFormat.B3Single) != 0)
        {
            Need(headers.ContainsKey(TraceHeaders.B3), TraceHeaders.B3);
        }

        Need(hasRequestId, TraceHeaders.RequestId);
        return missing is { Count: > 0 } ? string.Join(", ", missing) : null;
    }

    private struct Search(ParentContext parent, string? requestId)
    {
        public readonly ParentContext Parent = parent;
        public readonly string? RequestId = requestId;
        public int Count;
        public HopFeature? ByTrace;
        public HopFeature? ByRequestId;
        public HopFeature? Latest;
        public long SecondLatestStart;
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
