using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MaMA.Evaluation.Golden;

/// <summary>One recorded output: its name, shape, dtype and the relative error it may differ by.</summary>
/// <param name="Tolerance">Largest accepted ||out - golden|| / ||golden|| (0 for integer tensors: exact).</param>
public sealed record GoldenTensor(string Name, int[] Shape, string Dtype, double Tolerance);

/// <summary>
/// <c>manifest.json</c> of a golden folder: what made the outputs (engine version, git commit,
/// device, dtypes), what they were made from (SHA-256 of the model weights and of the inputs,
/// step) and each output's tolerance. The folder also holds <c>inputs.safetensors</c> (a copy of
/// the inputs) and <c>outputs.safetensors</c> (the recorded outputs).
/// </summary>
public sealed record GoldenManifest
{
    public const string FileName = "manifest.json";
    public const string InputsFile = "inputs.safetensors";
    public const string OutputsFile = "outputs.safetensors";
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public required string EngineVersion { get; init; }

    public string? GitCommit { get; init; }

    /// <summary>UTC time of the recording, ISO 8601.</summary>
    public required string Created { get; init; }

    /// <summary>The device spec the outputs were computed on ("cpu", "ilgpu-cpu", "cuda", ...).</summary>
    public required string Device { get; init; }

    /// <summary>The dtype the forward computes in (the engine computes in fp32 whatever the weights).</summary>
    public string ComputeDtype { get; init; } = "float32";

    /// <summary>The dtype the model's weights are stored in (config.json's dtype).</summary>
    public required string WeightsDtype { get; init; }

    /// <summary>arch of the model folder: dinov2, gpt2 or mama.</summary>
    public required string Arch { get; init; }

    /// <summary>The model folder it was recorded from (informative; verify takes --model).</summary>
    public required string Model { get; init; }

    public required string ModelSha256 { get; init; }

    public required string InputsSha256 { get; init; }

    /// <summary>The training step passed to a MaMA forward with a second view (null: the model's late-loss step).</summary>
    public long? Step { get; init; }

    public required IReadOnlyList<GoldenTensor> Tensors { get; init; }

    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,   // "0.1.0+commit", not "0.1.0\u002Bcommit"
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions) + "\n";

    /// <summary>Reads <c>DIR/manifest.json</c>; a missing or malformed file is an <see cref="InvalidDataException"/> naming it.</summary>
    public static GoldenManifest Load(string goldenDir)
    {
        string path = Path.Combine(Path.GetFullPath(goldenDir), FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no golden manifest; record one with `mama golden record --model DIR --in INPUTS.safetensors --out {goldenDir}`.", path);
        GoldenManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<GoldenManifest>(File.ReadAllText(path), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a golden manifest ({e.Message}).", e);
        }
        if (manifest is null || manifest.Tensors is null) throw new InvalidDataException($"{path}: not a golden manifest (empty).");
        if (manifest.FormatVersion != CurrentFormatVersion)
            throw new InvalidDataException($"{path}: format_version {manifest.FormatVersion}, but this engine reads {CurrentFormatVersion}; record the goldens again with `mama golden record`.");
        return manifest;
    }
}
