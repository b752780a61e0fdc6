using MeshLite.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace MeshLite.Istio;

/// <summary>
/// What <c>--istio</c> gave the sidecar: the translation in effect (its settings and the resource each came from, its
/// warnings, what it read and skipped) and, after an edit that could not be read, the error that kept it in effect.
/// </summary>
internal sealed class IstioInput
{
    private string? _error;
    private volatile IstioTranslation? _current;

    public IstioInput(string? path) => Path = path;

    public string? Path { get; }

    /// <summary>The translation of the last read without an error; a new instance per read.</summary>
    public IstioTranslation? Current => _current;

    public static IstioInput None { get; } = new(null);

    internal void Publish(IstioTranslation translation) => _current = translation;

    internal void Fail(string error) => Volatile.Write(ref _error, error);

    /// <summary>The error of the last edit, once; null when it was read.</summary>
    public string? TakeError() => Interlocked.Exchange(ref _error, null);
}

/// <summary>
/// Istio's resources as a configuration source: the translation for this sidecar's identity as <c>MeshLite:*</c> keys,
/// above the <c>--config</c> file and below the environment and the command line. Files are watched; an edit that
/// cannot be read keeps the last good keys and is refused, with its error, by the reload that follows.
/// </summary>
internal sealed class IstioConfigurationSource(IstioInput input, Func<IstioResourceSet, IstioTranslation> translate, string defaultNamespace) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new IstioConfigurationProvider(input, translate, defaultNamespace);
}

internal sealed class IstioConfigurationProvider : ConfigurationProvider, IDisposable
{
    private static readonly TimeSpan _settleDelay = TimeSpan.FromMilliseconds(250);

    private readonly IstioInput _input;
    private readonly Func<IstioResourceSet, IstioTranslation> _translate;
    private readonly string _defaultNamespace;
    private readonly PhysicalFileProvider? _files;
    private readonly IDisposable? _watch;
    private readonly string _filter;

    public IstioConfigurationProvider(IstioInput input, Func<IstioResourceSet, IstioTranslation> translate, string defaultNamespace)
    {
        _input = input;
        _translate = translate;
        _defaultNamespace = defaultNamespace;
        var path = input.Path!;
        var folder = Directory.Exists(path) ? path : System.IO.Path.GetDirectoryName(path);
        _filter = Directory.Exists(path) ? "**/*.y*ml" : System.IO.Path.GetFileName(path);
        if (folder is not null && Directory.Exists(folder))
        {
            _files = new PhysicalFileProvider(folder);
            if (Directory.Exists(System.IO.Path.Combine(folder, "..data")))
            {
                // A mounted ConfigMap, updated by swapping the ..data symlink: file events report that unreliably (and never
                // for a single file through its link), so poll, as .NET advises for ConfigMaps.
                _files.UsePollingFileWatcher = true;
                _files.UseActivePolling = true;
            }

            _watch = ChangeToken.OnChange(() => _files.Watch(_filter), OnChanged);
        }
    }

    /// <summary>At start an error stops the sidecar; later, the last good keys stay.</summary>
    public override void Load()
    {
        var set = IstioResourceReader.Read(_input.Path!, _defaultNamespace);
        var translation = _translate(set);
        var keys = translation.Keys();

        // So that MeshLite:Istio:Path says what was read when it came as --istio (a key set in the environment or on the
        // command line still wins, as given).
        keys[$"{MeshLiteOptions.SectionName}:Istio:Path"] = _input.Path;
        Data = keys;
        _input.Publish(translation);
    }

    private void OnChanged()
    {
        // Editors and ConfigMap updates write in steps: read once they have settled.
        Thread.Sleep(_settleDelay);
        try
        {
            Load();
        }
        catch (MeshLiteConfigurationException ex)
        {
            _input.Fail(string.Join("; ", ex.Errors));
        }
        catch (Exception ex)
        {
            // This runs on a file-watcher thread: nothing may escape it. The edit is refused like an invalid one.
            _input.Fail($"--istio: '{_input.Path}' could not be read: {ex.Message}");
        }

        OnReload();
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _files?.Dispose();
    }
}
