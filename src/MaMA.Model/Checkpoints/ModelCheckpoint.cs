using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;

namespace MaMA.Model.Checkpoints;

/// <summary>
/// An opened model folder (<see cref="ModelDirectory.Load"/>): its config, the memory-mapped
/// weights (tensors are copied out one at a time on demand) and the tokenizer folder if any.
/// </summary>
public sealed class ModelCheckpoint(string directory, ModelConfigFile config, SafetensorsFile weights, string? tokenizerDirectory) : IDisposable
{
    public string Directory { get; } = directory;

    public ModelConfigFile Config { get; } = config;

    public SafetensorsFile Weights { get; } = weights;

    /// <summary><c>tokenizer/</c> inside the folder, or null when the model carries none.</summary>
    public string? TokenizerDirectory { get; } = tokenizerDirectory;

    /// <summary>The weights as lazily read sources (for re-saving or converting without loading all).</summary>
    public IReadOnlyDictionary<string, TensorSource> Sources() =>
        Weights.Entries.ToDictionary(e => e.Key, e => new TensorSource(e.Value.DType, e.Value.Shape, () => Weights.Load(e.Key), Weights.Path), StringComparer.Ordinal);

    /// <summary>Copies one tensor out of the mapping.</summary>
    public Tensor Load(string name) => Weights.Load(name);

    public void Dispose() => Weights.Dispose();
}
