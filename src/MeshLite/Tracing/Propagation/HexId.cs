using System.Buffers;
using System.Diagnostics;

namespace MeshLite.Tracing.Propagation;

/// <summary>Hex ids to and from <see cref="ActivityTraceId"/>/<see cref="ActivitySpanId"/> without allocating.</summary>
internal static class HexId
{
    private static ReadOnlySpan<byte> ZeroHigh => [0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Parses 32 or (when <paramref name="allowShort"/>) 16 hex chars; rejects all-zero ids.</summary>
    public static bool TryParseTraceId(ReadOnlySpan<char> hex, bool lowercaseOnly, bool allowShort, out ActivityTraceId traceId, out bool isShort)
    {
        traceId = default;
        isShort = hex.Length == 16;
        if (hex.Length != 32 && !(allowShort && isShort))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        var target = isShort ? bytes[8..] : bytes;
        if (isShort)
        {
            ZeroHigh.CopyTo(bytes);
        }

        if (!TryDecode(hex, target, lowercaseOnly) || IsAllZero(bytes))
        {
            return false;
        }

        traceId = ActivityTraceId.CreateFromBytes(bytes);
        return true;
    }

    public static bool TryParseSpanId(ReadOnlySpan<char> hex, bool lowercaseOnly, out ActivitySpanId spanId)
    {
        spanId = default;
        if (hex.Length != 16)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[8];
        if (!TryDecode(hex, bytes, lowercaseOnly) || IsAllZero(bytes))
        {
            return false;
        }

        spanId = ActivitySpanId.CreateFromBytes(bytes);
        return true;
    }

    /// <summary>Writes 32 hex chars, or the low 16 when <paramref name="asShort"/>.</summary>
    public static int WriteTraceId(ActivityTraceId traceId, bool asShort, Span<char> destination)
    {
        Span<byte> bytes = stackalloc byte[16];
        traceId.CopyTo(bytes);
        var source = asShort ? bytes[8..] : bytes;
        Convert.TryToHexStringLower(source, destination, out var written);
        return written;
    }

    public static int WriteSpanId(ActivitySpanId spanId, Span<char> destination)
    {
        Span<byte> bytes = stackalloc byte[8];
        spanId.CopyTo(bytes);
        Convert.TryToHexStringLower(bytes, destination, out var written);
        return written;
    }

    public static bool IsHex(ReadOnlySpan<char> value, bool lowercaseOnly) =>
        lowercaseOnly ? !value.ContainsAnyExcept(LowerHex) : !value.ContainsAnyExcept(AnyHex);

    private static bool TryDecode(ReadOnlySpan<char> hex, Span<byte> destination, bool lowercaseOnly)
    {
        if (!IsHex(hex, lowercaseOnly))
        {
            return false;
        }

        return Convert.FromHexString(hex, destination, out _, out var written) == OperationStatus.Done && written == destination.Length;
    }

    private static bool IsAllZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");
    private static readonly SearchValues<char> AnyHex = SearchValues.Create("0123456789abcdefABCDEF");
}
