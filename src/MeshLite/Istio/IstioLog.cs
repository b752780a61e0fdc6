namespace MeshLite.Istio;

/// <summary>The log lines of reading Istio's resources: one summary (what was read, what skipped) and one line per warning.</summary>
internal static partial class IstioLog
{
    public static void Loaded(ILogger logger, IstioTranslation translation)
    {
        Summary(logger, translation.Summary, translation.Settings.Count);
        foreach (var warning in translation.Warnings)
        {
            Warning(logger, warning);
        }
    }

    [LoggerMessage(EventId = 140, Level = LogLevel.Information, EventName = "IstioResourcesRead",
        Message = "Istio resources: {summary}; {settings} MeshLite settings taken from them (see /config_dump).")]
    private static partial void Summary(ILogger logger, string summary, int settings);

    [LoggerMessage(EventId = 141, Level = LogLevel.Warning, EventName = "IstioResourceWarning", Message = "Istio resources: {warning}")]
    private static partial void Warning(ILogger logger, string warning);
}
