using System.Globalization;

namespace MeshLite.Configuration;

/// <summary>Durations as people write them on a command line or in an annotation: <c>500ms</c>, <c>10s</c>, <c>2m</c>.</summary>
internal static class DurationText
{
    /// <summary>Parses <paramref name="value"/>; <paramref name="bareSeconds"/>: whether a number without a unit (<c>10</c>) means seconds.</summary>
    public static bool TryParse(string? value, bool bareSeconds, out TimeSpan duration)
    {
        duration = default;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        var (number, unit) = value.EndsWith("ms", StringComparison.Ordinal) ? (value[..^2], 0.001)
            : value.EndsWith('s') ? (value[..^1], 1.0)
            : value.EndsWith('m') ? (value[..^1], 60.0)
            : (value, bareSeconds ? 1.0 : double.NaN);
        if (double.IsNaN(unit) || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d < 0)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(d * unit);
        return true;
    }
}
