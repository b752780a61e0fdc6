namespace MeshLite.Tests;

/// <summary>A file of the repository, found by walking up from the test binaries.</summary>
internal static class RepositoryFile
{
    public static string Find(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine([dir.FullName, .. parts]);
            if (File.Exists(path) || Directory.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException(string.Join('/', parts));
    }
}
