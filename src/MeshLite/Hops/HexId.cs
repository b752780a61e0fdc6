using System.Buffers;
using System.Buffers.Binary;

namespace MeshLite.Hops;

/// <summary>
/// Hex digits of trace and span ids, read and written as 64-bit integers with the runtime's vectorized hex routines
/// (<c>ulong.TryParse</c> and <c>TryFormat("x16")</c> parse a format or style on every call and cost several times more).
/// </summary>
internal static class HexId
{
    private static readonly SearchValues<char> _lowerHex = SearchValues.Create("0123456789abcdef");
    private static readonly SearchValues<char> _anyHex = SearchValues.Create("0123456789abcdefABCDEF");

    public static bool IsHex(ReadOnlySpan<char> value, bool lowercaseOnly) =>
        !value.IsEmpty && (lowercaseOnly ? !value.ContainsAnyExcept(_lowerHex) : !value.ContainsAnyExcept(_anyHex));

    /// <summary>Reads exactly 16 hex digits (either case; validate the case with <see cref="IsHex"/> first when it matters).</summary>
    public static bool TryReadUInt64(ReadOnlySpan<char> hex, out ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        if (hex.Length != 16 || Convert.FromHexString(hex, bytes, out _, out _) != OperationStatus.Done)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        return true;
    }

    /// <summary>Writes <paramref name="value"/> as 16 lowercase hex digits.</summary>
    public static void WriteUInt64(ulong value, Span<char> destination)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        Convert.TryToHexStringLower(bytes, destination, out _);
    }
}
