using System.Text.Json;
using System.Text.Json.Serialization;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;

namespace MaMA.Model.Checkpoints;

/// <summary>Which model a checkpoint directory holds.</summary>
public enum ModelArch
{
    /// <summary>A DINOv2 ViT alone (keys as in the DINOv2 state dict).</summary>
    Dinov2,

    /// <summary>A GPT-2 / BioMedLM alone (keys as in HF GPT2LMHeadModel, LM head dropped).</summary>
    Gpt2,

    /// <summary>The full MaMA model (keys as in the published Lightning module's state_dict).</summary>
    Mama,
}

/// <summary>
/// <c>config.json</c> of a model directory: the architecture and the configuration of its parts,
/// in snake_case. A <see cref="ModelArch.Dinov2"/> file has only <c>vision</c>, a
/// <see cref="ModelArch.Gpt2"/> file only <c>text</c>, a <see cref="ModelArch.Mama"/> file
/// <c>mama</c> (which holds both). <c>format_version</c> guards future changes.
/// </summary>
public sealed record ModelConfigFile
{
    public const string FileName = "config.json";

    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public required ModelArch Arch { get; init; }

    public VisionConfig? Vision { get; init; }

    public Gpt2Config? Text { get; init; }

    public MaMAConfig? Mama { get; init; }

    /// <summary>dtype of the stored weights ("float32", "bfloat16", "float16").</summary>
    public string Dtype { get; init; } = "float32";

    /// <summary>Where the weights came from (file names, import time), for people reading the folder.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// SHA-256 (lower-case hex) of <c>model.safetensors</c>, written by <see cref="ModelDirectory.Save(string, ModelConfigFile, IReadOnlyDictionary{string, TensorSource}, ModelDirectory.SaveOptions?)"/>
    /// and checked by <see cref="ModelDirectory.Load"/>; null in hand-assembled folders (not checked).
    /// </summary>
    public string? WeightsSha256 { get; init; }

    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static ModelConfigFile ForVision(VisionConfig vision) => new() { Arch = ModelArch.Dinov2, Vision = vision };

    public static ModelConfigFile ForText(Gpt2Config text) => new() { Arch = ModelArch.Gpt2, Text = text };

    public static ModelConfigFile ForMaMA(MaMAConfig mama) => new() { Arch = ModelArch.Mama, Mama = mama };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses and validates; errors name the file and the problem.</summary>
    public static ModelConfigFile Parse(string json, string source = FileName)
    {
        ModelConfigFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ModelConfigFile>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not a valid model config ({e.Message}).", e);
        }
        if (file is null) throw new InvalidDataException($"{source}: empty model config.");
        try
        {
            file.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        return file;
    }

    public static ModelConfigFile Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No model config at '{path}'.", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Writes to a temporary name in the same folder, then renames (no half-written config).</summary>
    public void Save(string path)
    {
        Validate();
        string tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(tmp, ToJson());
        File.Move(tmp, path, overwrite: true);
    }

    public void Validate()
    {
        if (FormatVersion != CurrentFormatVersion)
            throw new ArgumentException($"format_version {FormatVersion} is not supported by this engine (expected {CurrentFormatVersion}).");
        if (Dtype is not ("float32" or "bfloat16" or "float16"))
            throw new ArgumentException($"dtype '{Dtype}' is not one of float32, bfloat16, float16.");
        if (WeightsSha256 is not null && !WeightsChecksum.IsWellFormed(WeightsSha256))
            throw new ArgumentException($"weights_sha256 '{WeightsSha256}' is not 64 lower-case hex digits.");
        switch (Arch)
        {
            case ModelArch.Dinov2:
                (Vision ?? throw new ArgumentException("arch dinov2 needs a 'vision' section.")).Validate();
                break;
            case ModelArch.Gpt2:
                (Text ?? throw new ArgumentException("arch gpt2 needs a 'text' section.")).Validate();
                break;
            case ModelArch.Mama:
                (Mama ?? throw new ArgumentException("arch mama needs a 'mama' section.")).Validate();
                break;
            default:
                throw new ArgumentException($"unknown arch {Arch}.");
        }
    }
}
