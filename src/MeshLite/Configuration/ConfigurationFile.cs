namespace MeshLite.Configuration;

/// <summary>
/// The <c>--config</c> file, watched for edits. A file that cannot be parsed on a reload must not empty the
/// configuration behind the sidecar's back: the parse error is kept here, and the reload that follows refuses the edit
/// with it rather than with the errors an empty configuration would give.
/// </summary>
internal sealed class ConfigurationFile
{
    private string? _parseError;
    private bool _loaded;

    private ConfigurationFile(string? path) => Path = path;

    public string? Path { get; }

    /// <summary>No file: configuration came from the command line, the environment or code, and nothing reloads.</summary>
    public static ConfigurationFile None { get; } = new(null);

    /// <summary>Adds the file, reloaded on change (set <c>DOTNET_USE_POLLING_FILE_WATCHER=true</c> where files are swapped by symlink, as in a ConfigMap).</summary>
    public static ConfigurationFile Add(IConfigurationBuilder configuration, string path)
    {
        var file = new ConfigurationFile(path);
        configuration.AddJsonFile(source =>
        {
            source.Path = path;
            source.Optional = false;
            source.ReloadOnChange = true;
            source.ResolveFileProvider();
            source.OnLoadException = file.OnLoadException;
        });
        file._loaded = true;
        return file;
    }

    /// <summary>The parse error of the last reload, once; null when the file parsed.</summary>
    public string? TakeParseError() => Interlocked.Exchange(ref _parseError, null);

    private void OnLoadException(FileLoadExceptionContext context)
    {
        if (!_loaded)
        {
            return;
        }

        var cause = context.Exception.InnerException ?? context.Exception;
        Volatile.Write(ref _parseError, $"--config: '{Path}' is not valid JSON: {cause.Message}");
        context.Ignore = true;
    }
}
