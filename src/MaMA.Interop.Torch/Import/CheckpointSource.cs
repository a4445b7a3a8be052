using System.Text.Json.Nodes;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// What a checkpoint reader found: the tensors under their names in the file (read lazily), the
/// Hugging Face <c>config.json</c> next to them if any, and a one-line description for progress
/// output. Keeps the files open until disposed.
/// </summary>
public sealed class CheckpointSource(string description, IReadOnlyDictionary<string, TensorSource> tensors, JsonObject? hfConfig, IEnumerable<IDisposable> open) : IDisposable
{
    private readonly List<IDisposable> _open = open.ToList();

    /// <summary>"torch.save zip (Lightning .ckpt, state_dict)", "2 safetensors shards", ...</summary>
    public string Description { get; } = description;

    public IReadOnlyDictionary<string, TensorSource> Tensors { get; } = tensors;

    public JsonObject? HfConfig { get; } = hfConfig;

    /// <summary>Notes gathered while reading (entries ignored, nesting found), printed by the importer.</summary>
    public List<string> Notes { get; } = [];

    public void Dispose()
    {
        foreach (IDisposable d in _open) d.Dispose();
        _open.Clear();
    }
}
