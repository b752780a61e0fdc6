namespace MeshLite.Configuration;

/// <summary>
/// The configuration in effect now, replaced whole when an edit of the configuration file is accepted. A request
/// reads <see cref="Current"/> once; what it read stays consistent even while a reload lands.
/// </summary>
internal sealed class LiveSettings
{
    private ConfigurationVersion _version;

    public LiveSettings(MeshLiteSettings initial, TimeProvider time)
    {
        _version = new ConfigurationVersion(1, initial, time.GetUtcNow(), [], null);
    }

    /// <summary>Raised after a new version becomes current, on the thread that loaded it.</summary>
    public event Action<MeshLiteSettings>? Changed;

    public MeshLiteSettings Current => Volatile.Read(ref _version).Settings;

    public ConfigurationVersion Version => Volatile.Read(ref _version);

    public void Publish(MeshLiteSettings next, IReadOnlyList<string> restartRequired, DateTimeOffset at)
    {
        var current = Version;
        Volatile.Write(ref _version, new ConfigurationVersion(current.Number + 1, next, at, restartRequired, current.LastRejection));
        Changed?.Invoke(next);
    }

    public void Reject(IReadOnlyList<string> errors, DateTimeOffset at)
    {
        var current = Version;
        Volatile.Write(ref _version, current with { LastRejection = new ConfigurationRejection(at, errors) });
    }
}

/// <summary>One accepted configuration: its number (1 at start, +1 per accepted edit), when it became live, and what still needs a restart.</summary>
internal sealed record ConfigurationVersion(
    int Number,
    MeshLiteSettings Settings,
    DateTimeOffset LoadedAt,
    IReadOnlyList<string> RestartRequired,
    ConfigurationRejection? LastRejection);

/// <summary>The last edit that was refused, and why; the version before it stayed live.</summary>
internal sealed record ConfigurationRejection(DateTimeOffset At, IReadOnlyList<string> Errors);
