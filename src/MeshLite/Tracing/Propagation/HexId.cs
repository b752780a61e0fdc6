using System.Buffers;

namespace MeshLite.Tracing.Propagation;

internal static class HexId
{
    private static readonly SearchValues<char> _lowerHex = SearchValues.Create("0123456789abcdef");
    private static readonly SearchValues<char> _anyHex = SearchValues.Create("0123456789abcdefABCDEF");

    public static bool IsHex(ReadOnlySpan<char> value, bool lowercaseOnly) =>
        !value.IsEmpty && (lowercaseOnly ? !value.ContainsAnyExcept(_lowerHex) : !value.ContainsAnyExcept(_anyHex));
}
