using System.Diagnostics;
using MeshLite.Configuration;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;

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

/// <summary>A break detector's answer to "continue which trace?": the in-flight request to continue (mode parent), or links to it (mode link).</summary>
internal readonly record struct Stitch(HopFeature? Parent, ActivityLink[]? Links);

/// <summary>
/// Finds the calls that break traces. The sidecar sees both sides of its app: the requests coming in (with the ids it
/// gave them) and the calls going out. A call that carries no context, or a context of no request in flight, or only
/// part of what the app was given, is a break; the request that caused it is the in-flight one (certain when it is the
/// only one, else the most recent). <see cref="BreakReports"/> counts and summarises what this finds.
/// </summary>
internal sealed class BreakClassifier : IHopObserver
{
    private readonly InflightInbound _inflight;
    private volatile BreakSettings _settings;

    public BreakClassifier(LiveSettings live, InflightInbound inflight)
    {
        _inflight = inflight;
        _settings = BreakSettings.From(live.Current.Options.Tracing);
        live.Changed += settings => _settings = BreakSettings.From(settings.Options.Tracing);
    }

    public StitchMode Mode => _settings.Mode;

    public string Stage => "breaks";

    public bool WantsStartTime => false;

    public void OnInboundStart(HopFeature hop) => _inflight.Add(hop);

    /// <summary>A finished inbound request is no longer in flight: a later call cannot be blamed on it.</summary>
    public void OnHopCompleted(HopFeature hop, HttpContext context)
    {
        if (hop.InflightSlot >= 0)
        {
            _inflight.Remove(hop);
        }
    }

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

    /// <summary>How to heal a break: continue the cause's trace (mode parent, when certain), link to it (mode link), or nothing.</summary>
    public Stitch Stitch(in BreakVerdict verdict)
    {
        var mode = _settings.Mode;
        if (mode == StitchMode.Off || !verdict.IsBreak || verdict.Kind == BreakKind.Partial || verdict.Candidate is not { } cause)
        {
            return default;
        }

        if (mode == StitchMode.Parent && verdict.Confidence == "certain")
        {
            return new Stitch(cause, null);
        }

        var flags = cause.Sampling.Sampled ? ActivityTraceFlags.Recorded : ActivityTraceFlags.None;
        return new Stitch(null, [new ActivityLink(new ActivityContext(cause.TraceId.ToActivityTraceId(), cause.SpanId.ToActivitySpanId(), flags))]);
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

        var injected = _settings.Injected;
        if ((injected & TraceFormat.W3C) != 0)
        {
            Need(headers.ContainsKey(TraceHeaders.TraceParent), TraceHeaders.TraceParent);
        }

        if ((injected & TraceFormat.B3Multi) != 0)
        {
            var hasIds = headers.ContainsKey(TraceHeaders.B3TraceId);
            Need(hasIds, "x-b3-*");
            if (hasIds)
            {
                Need(headers.ContainsKey(TraceHeaders.B3Sampled) || headers.ContainsKey(TraceHeaders.B3Flags), TraceHeaders.B3Sampled);
            }
        }

        if ((injected & TraceFormat.B3Single) != 0)
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

    /// <summary>The stitch mode and the formats injected, from one configuration version, swapped together.</summary>
    private sealed record BreakSettings(StitchMode Mode, TraceFormat Injected)
    {
        public static BreakSettings From(TracingOptions tracing)
        {
            var mode = tracing.Stitch?.ToLowerInvariant() switch
            {
                "link" => StitchMode.Link,
                "parent" => StitchMode.Parent,
                _ => StitchMode.Off,
            };
            return new BreakSettings(mode, TraceFormats.FromNames(tracing.Propagation, TracingOptions.DefaultPropagation));
        }
    }
}
