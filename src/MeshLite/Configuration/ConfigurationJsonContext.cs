using System.Text.Json.Serialization;

namespace MeshLite.Configuration;

/// <summary>The options as JSON, without reflection (Native AOT): for <c>/config_dump</c>, and to tell whether an edit changed anything.</summary>
[JsonSerializable(typeof(MeshLiteOptions))]
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ConfigurationJsonContext : JsonSerializerContext;
