using System.Buffers.Binary;
using System.Diagnostics;

namespace MeshLite.Hops;

/// <summary>
/// A 128-bit trace id as two integers. <see cref="ActivityTraceId"/> keeps its id as a hex string, so every parse or
/// random id would allocate; MeshLite parses, decides and writes headers with this instead, and converts only when a
/// sampled span is created.
/// </summary>
public readonly record struct TraceIdentifier(ulong High, ulong Low)
{
    public bool IsEmpty => High == 0 && Low == 0;

    public static TraceIdentifier CreateRandom()
    {
        ulong high, low;
        do
        {
            high = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
            low = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        }
        while (high == 0 && low == 0);

        return new TraceIdentifier(high, low);
    }

    /// <summary>Parses 32 hex characters, or 16 (a 64-bit B3 id, zero-padded) when <paramref name="allowShort"/>. All-zero ids are invalid.</summary>
    public static bool TryParse(ReadOnlySpan<char> hex, bool lowercaseOnly, bool allowShort, out TraceIdentifier id, out bool isShort)
    {
        id = default;
        isShort = hex.Length == 16;
        if ((hex.Length != 32 && !(allowShort && isShort)) || !HexId.IsHex(hex, lowercaseOnly))
        {
            return false;
        }

        ulong high = 0;
        if (!isShort && !HexId.TryReadUInt64(hex[..16], out high))
        {
            return false;
        }

        if (!HexId.TryReadUInt64(hex[^16..], out var low) || (high == 0 && low == 0))
        {
            return false;
        }

        id = new TraceIdentifier(high, low);
        return true;
    }

    /// <summary>Writes 32 lowercase hex characters, or the low 16 when <paramref name="asShort"/>.</summary>
    public int WriteHex(Span<char> destination, bool asShort = false)
    {
        if (asShort)
        {
            HexId.WriteUInt64(Low, destination);
            return 16;
        }

        HexId.WriteUInt64(High, destination);
        HexId.WriteUInt64(Low, destination[16..]);
        return 32;
    }

    public ActivityTraceId ToActivityTraceId()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Low);
        return ActivityTraceId.CreateFromBytes(bytes);
    }

    public static TraceIdentifier From(ActivityTraceId id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.CopyTo(bytes);
        return new TraceIdentifier(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    public override string ToString() => string.Create(32, this, static (span, id) => id.WriteHex(span));
}

/// <summary>A 64-bit span id as an integer; see <see cref="TraceIdentifier"/>.</summary>
public readonly record struct SpanIdentifier(ulong Value)
{
    public bool IsEmpty => Value == 0;

    public static SpanIdentifier CreateRandom()
    {
        ulong value;
        do
        {
            value = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        }
        while (value == 0);

        return new SpanIdentifier(value);
    }

    public static bool TryParse(ReadOnlySpan<char> hex, bool lowercaseOnly, out SpanIdentifier id)
    {
        id = default;
        if (hex.Length != 16 || !HexId.IsHex(hex, lowercaseOnly)
            || !HexId.TryReadUInt64(hex, out var value) || value == 0)
        {
            return false;
        }

        id = new SpanIdentifier(value);
        return true;
    }

    public int WriteHex(Span<char> destination)
    {
        HexId.WriteUInt64(Value, destination);
        return 16;
    }

    public ActivitySpanId ToActivitySpanId()
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, Value);
        return ActivitySpanId.CreateFromBytes(bytes);
    }

    public static SpanIdentifier From(ActivitySpanId id)
    {
        Span<byte> bytes = stackalloc byte[8];
        id.CopyTo(bytes);
        return new SpanIdentifier(BinaryPrimitives.ReadUInt64BigEndian(bytes));
    }

    public override string ToString() => string.Create(16, this, static (span, id) => id.WriteHex(span));
}
