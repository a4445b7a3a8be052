using System.Text.Json;
using System.Text.Json.Serialization;

namespace MaMA.Training.Config;

/// <summary>
/// Reads and writes <see cref="TrainingConfig"/> JSON: snake_case keys, comments and trailing
/// commas allowed, unknown keys and wrong types rejected with the JSON path of the offending key.
/// </summary>
public static class TrainingConfigFile
{
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>Parses and validates; every problem is an <see cref="InvalidDataException"/> naming <paramref name="source"/> and the key.</summary>
    public static TrainingConfig Parse(string json, string source = "config")
    {
        TrainingConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<TrainingConfig>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {Describe(e)}", e);
        }
        if (config is null) throw new InvalidDataException($"{source}: the file holds null, not a training config.");
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        return config;
    }

    public static TrainingConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Training config '{path}' does not exist.", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static string ToJson(TrainingConfig config) => JsonSerializer.Serialize(config, JsonOptions);

    // System.Text.Json names an unknown key in its message ("The JSON property 'x' could not be
    // mapped ..."); the path says where it sits. Both are kept, the .NET type names dropped.
    private static string Describe(JsonException e)
    {
        string path = e.Path is { Length: > 0 } p ? p : "$";
        string message = e.Message;
        const string unmapped = "The JSON property '";
        int at = message.IndexOf(unmapped, StringComparison.Ordinal);
        if (at >= 0)
        {
            int end = message.IndexOf('\'', at + unmapped.Length);
            string key = end > at ? message[(at + unmapped.Length)..end] : "?";
            // The path ends with the key itself: name the object that holds it.
            string holder = path.EndsWith("." + key, StringComparison.Ordinal) ? path[..^(key.Length + 1)] : path;
            return $"unknown key '{key}' at {holder}.";
        }
        const string converted = "could not be converted to ";
        int type = message.IndexOf(converted, StringComparison.Ordinal);
        if (type >= 0)
        {
            string target = message[(type + converted.Length)..].Split(' ', 2)[0].TrimEnd('.');
            return $"invalid value at {path}: expected {Expected(target)}.";
        }
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return $"invalid value at {path}: {(cut > 0 ? message[..cut] : message)}";
    }

    /// <summary>What a JSON value of .NET type <paramref name="type"/> is, in the words of a config file.</summary>
    private static string Expected(string type) => type switch
    {
        "System.UInt64" or "System.UInt32" => "a whole number, 0 or more",
        "System.Int64" or "System.Int32" => "a whole number",
        "System.Double" or "System.Single" => "a number",
        "System.Boolean" => "true or false",
        "System.String" => "a string",
        _ => EnumValues(type) ?? "an object { ... } (docs/training.md lists its keys)",
    };

    /// <summary>"one of "a", "b"" for an enum type named <paramref name="type"/>, spelled as the config writes them; null for other types.</summary>
    private static string? EnumValues(string type)
    {
        Type? t = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(type)).FirstOrDefault(found => found is not null);
        if (t is not { IsEnum: true }) return null;
        return "one of " + string.Join(", ", Enum.GetValues(t).Cast<object>().Select(v => JsonSerializer.Serialize(v, t, JsonOptions)));
    }
}
