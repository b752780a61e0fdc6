using System.Globalization;

namespace MeshLite.Tracing.Propagation;

/// <summary>
/// Envoy's <c>x-request-id</c> (UUID v4) and the trace reason it packs at index 14, the UUID version nibble:
/// <c>4</c> not traced, <c>9</c> sampled, <c>a</c> forced by <c>x-envoy-force-trace</c>, <c>b</c> forced by <c>x-client-trace-id</c>.
/// </summary>
public static class RequestId
{
    public const int UuidLength = 36;
    public const int ReasonIndex = 14;
    public const char NotTraceable = '4';
    public const char Sampled = '9';
    public const char ServiceForced = 'a';
    public const char ClientForced = 'b';

    /// <summary>A fresh lowercase UUID v4, 36 characters, as Envoy generates it.</summary>
    /// <remarks>
    /// From <see cref="Random.Shared"/>, not <see cref="Guid.NewGuid"/>: the id needs to be unique and evenly spread (its
    /// first 8 digits are the sampling draw), not unguessable, and NewGuid's cryptographically secure source took 2 % of
    /// a sidecar's CPU in a profile.
    /// </remarks>
    public static string Generate()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4: the high nibble of the third group (little-endian)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes).ToString("D");
    }

    /// <summary>The trace reason packed in <paramref name="requestId"/>, or <see cref="NotTraceable"/> when none is readable.</summary>
    public static char ReadReason(ReadOnlySpan<char> requestId) =>
        requestId.Length == UuidLength && requestId[ReasonIndex] is Sampled or ServiceForced or ClientForced
            ? requestId[ReasonIndex]
            : NotTraceable;

    /// <summary>Envoy's sampling number: the first 8 hex characters as an integer, modulo 10000.</summary>
    public static bool TryGetSamplingValue(ReadOnlySpan<char> requestId, out int value)
    {
        if (requestId.Length >= 8
            && uint.TryParse(requestId[..8], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var number))
        {
            value = (int)(number % 10000);
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>The id with <paramref name="reason"/> at index 14; the same instance when nothing changes or the id is not a 36-char UUID.</summary>
    public static string WithReason(string requestId, char reason)
    {
        if (requestId.Length != UuidLength || requestId[ReasonIndex] == reason)
        {
            return requestId;
        }

        return string.Create(UuidLength, (requestId, reason), static (span, s) =>
        {
            s.requestId.AsSpan().CopyTo(span);
            span[ReasonIndex] = s.reason;
        });
    }
}
