using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MeshLite.Yaml;

/// <summary>Why a text is not YAML: YamlDotNet's message, and its position when it gives one.</summary>
internal sealed record YamlLoadError(string Message, Mark? Start);

internal static class YamlLoading
{
    /// <summary>
    /// Loads every document of <paramref name="parser"/>'s text into <paramref name="stream"/>; null, or why it is not
    /// YAML. YamlDotNet's scanner and node loader reject some malformed text with <see cref="InvalidOperationException"/>
    /// or <see cref="ArgumentException"/> instead of a <see cref="YamlException"/>, without a position: those are not
    /// YAML either, never a crash.
    /// </summary>
    public static YamlLoadError? TryLoad(YamlStream stream, IParser parser)
    {
        try
        {
            stream.Load(parser);
            return null;
        }
        catch (YamlException ex)
        {
            return new YamlLoadError((ex.InnerException ?? ex).Message, ex.Start);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            return new YamlLoadError(ex.Message, null);
        }
    }

    public static YamlLoadError? TryLoad(YamlStream stream, string text) => TryLoad(stream, new Parser(new StringReader(text)));
}
