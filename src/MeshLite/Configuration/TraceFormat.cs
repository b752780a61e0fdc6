namespace MeshLite.Configuration;

/// <summary>A trace-context header format. Flags, so a set of formats to write is one value.</summary>
[Flags]
public enum TraceFormat : byte
{
    None = 0,
    W3C = 1,
    B3Single = 2,
    B3Multi = 4,
}

public static class TraceFormats
{
    public static bool TryParseName(string? name, out TraceFormat format)
    {
        format = name?.ToLowerInvariant() switch
        {
            "w3c" or "tracecontext" => TraceFormat.W3C,
            "b3" or "b3single" => TraceFormat.B3Single,
            "b3multi" => TraceFormat.B3Multi,
            _ => TraceFormat.None,
        };
        return format != TraceFormat.None;
    }

    /// <summary>The formats named in <c>MeshLite:Tracing:Propagation</c> (unknown names are the validator's to refuse); none given means the default.</summary>
    public static TraceFormat FromNames(IEnumerable<string>? names, IEnumerable<string> defaults)
    {
        var formats = TraceFormat.None;
        foreach (var name in names ?? defaults)
        {
            if (TryParseName(name, out var format))
            {
                formats |= format;
            }
        }

        return formats;
    }

    /// <summary>The label value for a format (metrics, logs, the <c>meshlite.trace_context.format</c> tag).</summary>
    public static string Name(TraceFormat format) => format switch
    {
        TraceFormat.W3C => "w3c",
        TraceFormat.B3Single => "b3",
        TraceFormat.B3Multi => "b3multi",
        _ => "none",
    };
}
