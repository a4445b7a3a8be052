using System.Security.Cryptography;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;

namespace MaMA.Training.Checkpoints;

/// <summary>
/// The part of a model that never changes during a run (for MaMA: BioMedLM's base weights under
/// LoRA, the ViT's mask token and final norm), which a training checkpoint does not store. The
/// checkpoint records what it was instead: the <c>model</c> the run starts from, the model folder
/// and its weights' SHA-256 from its config.json when it is a folder, and the SHA-256 of the frozen
/// tensors themselves (names, dtypes, shapes and bytes in name order), so a resume over a base that
/// changed (another import, other random-init code) fails instead of training a mixture.
/// </summary>
public sealed record FrozenBase
{
    /// <summary>The config's <c>model</c>: "tiny", "paper", a model folder or a config.json.</summary>
    public required string Model { get; init; }

    /// <summary>The model folder's full path, or null for weights drawn from the seed.</summary>
    public string? Directory { get; init; }

    /// <summary>SHA-256 of the folder's model.safetensors as its config.json records it (null when not a folder or not recorded).</summary>
    public string? WeightsSha256 { get; init; }

    /// <summary>SHA-256 over the frozen tensors (name, dtype, shape, bytes), in ordinal name order.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The frozen tensors' names, ordinal order.</summary>
    public IReadOnlyList<string> Names { get; init; } = [];

    /// <summary>Their total size in bytes (what each checkpoint saves by not storing them).</summary>
    public long Bytes { get; init; }

    /// <summary>
    /// Describes <paramref name="frozen"/> (name -> live tensor) of a model built from
    /// <paramref name="model"/>, with the weights checksum of <paramref name="directory"/>'s config.json when it is a model folder.
    /// </summary>
    public static FrozenBase Of(string model, string? directory, IReadOnlyDictionary<string, Tensor> frozen) =>
        Describe(model, directory, directory is null ? null : ModelConfigFile.Load(Path.Combine(directory, ModelConfigFile.FileName)).WeightsSha256, frozen);

    /// <summary>Describes the frozen tensors <paramref name="frozen"/> (name -> live tensor) of a model built from <paramref name="model"/>.</summary>
    public static FrozenBase Describe(string model, string? directory, string? weightsSha256, IReadOnlyDictionary<string, Tensor> frozen)
    {
        ArgumentNullException.ThrowIfNull(frozen);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        var names = frozen.Keys.Order(StringComparer.Ordinal).ToList();
        using (GradMode.NoGrad())
        {
            foreach (string name in names)
            {
                Tensor t = frozen[name];
                hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}\n{t.DType}\n{Shape.Format(t.Shape)}\n"));
                byte[] data = t.ToBytes();
                hash.AppendData(data);
                bytes += data.Length;
            }
        }
        return new FrozenBase
        {
            Model = model, Directory = directory, WeightsSha256 = weightsSha256, Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()), Names = names, Bytes = bytes,
        };
    }

    /// <summary>
    /// Throws <see cref="InvalidOperationException"/> (one message saying what differs and what to
    /// do) when <paramref name="current"/>, the base the resumed run just built, is not the one the
    /// checkpoint in <paramref name="folder"/> was trained on.
    /// </summary>
    public void CheckSameAs(FrozenBase current, string folder)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (Sha256 == current.Sha256 && Names.SequenceEqual(current.Names, StringComparer.Ordinal)) return;
        string was = Directory is null ? $"\"{Model}\" drawn from the seed" : $"the model folder {Directory} (weights SHA-256 {Short(WeightsSha256)})";
        string now = current.Directory is null ? $"\"{current.Model}\" drawn from the seed" : $"{current.Directory} (weights SHA-256 {Short(current.WeightsSha256)})";
        string what = !Names.SequenceEqual(current.Names, StringComparer.Ordinal)
            ? $"the frozen tensors differ ({Names.Count} in the checkpoint, {current.Names.Count} now)"
            : $"the frozen weights differ (SHA-256 {Short(Sha256)} in the checkpoint, {Short(current.Sha256)} now)";
        throw new InvalidOperationException(
            $"{folder}: the checkpoint stores only the trained weights and was made over the frozen base {was}; the model built now is {now}, and {what}. " +
            "Resume with the same base model (restore that folder, or the config's \"model\" and \"seed\"), or start a new run.");
    }

    private static string Short(string? sha) => sha is null ? "unrecorded" : sha[..Math.Min(12, sha.Length)] + "...";
}
