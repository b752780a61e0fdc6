using System.Diagnostics;
using System.Runtime.CompilerServices;
using MeshLite.Hops;

namespace MeshLite.Tracing;

/// <summary>
/// The span of a hop that was not sampled, made when the hop ends because a keep rule matched: started at the hop's
/// start, child of the caller's span, and with exactly the span id the hop already sent downstream — so that the spans
/// other sidecars kept under it find their parent.
/// </summary>
/// <remarks>
/// <see cref="Activity"/> draws its span id itself when it starts and offers no way to choose it; the id is therefore
/// written into its field right after the start, before anything has read it (listeners run no code at start for
/// MeshLite's source). <see cref="IsSupported"/> checks once that this still works on the runtime in use; where it does
/// not, nothing is kept (never a span under a wrong id).
/// </remarks>
internal static class KeptSpan
{
    public static bool IsSupported { get; } = Probe();

    public static Activity? Start(HopFeature hop, DateTimeOffset startTime)
    {
        if (!IsSupported)
        {
            return null;
        }

        var inbound = hop.Listener == ListenerKind.Inbound;
        var parent = new ActivityContext(hop.TraceId.ToActivityTraceId(), hop.ParentSpanId.IsEmpty ? default : hop.ParentSpanId.ToActivitySpanId(),
            ActivityTraceFlags.Recorded, isRemote: !hop.ParentSpanId.IsEmpty);
        var previous = Activity.Current;
        Activity.Current = null;
        var span = MeshLiteTelemetry.Source.StartActivity(hop.OperationName, inbound ? ActivityKind.Server : ActivityKind.Client, parent, startTime: startTime);
        Activity.Current = previous;
        if (span is not null)
        {
            SetSpanId(span, hop.SpanId.ToString());
        }

        return span;
    }

    private static void SetSpanId(Activity activity, string spanId)
    {
        SpanIdField(activity) = spanId;
        IdField(activity) = null;
    }

    private static bool Probe()
    {
        try
        {
            var expected = SpanIdentifier.CreateRandom();
            using var probe = new Activity("meshlite.keep.probe").SetIdFormat(ActivityIdFormat.W3C).Start();
            SetSpanId(probe, expected.ToString());
            var ok = SpanIdentifier.From(probe.SpanId) == expected && probe.Id?.Contains(expected.ToString(), StringComparison.Ordinal) == true;
            probe.Stop();
            return ok;
        }
        catch (MissingFieldException)
        {
            return false;
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_spanId")]
    private static extern ref string? SpanIdField(Activity activity);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_id")]
    private static extern ref string? IdField(Activity activity);
}
