namespace MeshLite.Configuration;

/// <summary>Start-up stops with this when configuration is invalid; its message names every bad key and value.</summary>
public sealed class MeshLiteConfigurationException : Exception
{
    public MeshLiteConfigurationException(IReadOnlyList<string> errors)
        : base("Invalid MeshLite configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", errors))
    {
        Errors = errors;
    }

    public MeshLiteConfigurationException()
        : this([])
    {
    }

    public MeshLiteConfigurationException(string message)
        : this([message])
    {
    }

    public MeshLiteConfigurationException(string message, Exception innerException)
        : base("Invalid MeshLite configuration:" + Environment.NewLine + "  " + message, innerException)
    {
        Errors = [message];
    }

    public IReadOnlyList<string> Errors { get; } = [];
}
