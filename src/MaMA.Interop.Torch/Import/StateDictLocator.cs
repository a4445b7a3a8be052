using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// Finds the state dict inside an unpickled <c>torch.save</c> object: the object itself when it maps
/// names to tensors, else the first of <c>state_dict</c> (Lightning, many trainers), <c>model</c>,
/// <c>teacher</c> (DINOv2 training checkpoints), <c>module</c>, <c>model_state_dict</c> that does,
/// searched depth-first. Everything else in the file (optimizer states, epochs, callbacks,
/// <c>hyper_parameters</c>) is ignored and counted in a note.
/// </summary>
public static class StateDictLocator
{
    public static readonly string[] NestingKeys = ["state_dict", "model", "teacher", "module", "model_state_dict"];

    public static (Dictionary<string, TensorSource> Tensors, string Where, List<string> Notes) Locate(TorchZipCheckpoint ckpt)
    {
        var notes = new List<string>();
        (OrderedDictionary<object, object?> dict, string where) = Find(ckpt.Root, "", ckpt.Path)
            ?? throw new InvalidDataException($"{ckpt.Path}: no state dict found (a dict of tensors, at the top or under {string.Join(", ", NestingKeys.Select(k => $"'{k}'"))}). "
                                              + $"Top-level entries: {Describe(ckpt.Root)}.");
        var tensors = new Dictionary<string, TensorSource>(StringComparer.Ordinal);
        int skipped = 0;
        foreach ((object k, object? v) in dict)
        {
            if (k is string key && v is TorchTensorRef t) tensors[key] = ckpt.Source(key, t);
            else skipped++;
        }
        if (where.Length > 0) notes.Add($"state dict found under '{where}'");
        if (ckpt.Root is OrderedDictionary<object, object?> root && where.Length > 0)
        {
            var others = root.Keys.Select(k => k.ToString()!).Where(k => k != where.Split('.')[0]).ToList();
            if (others.Count > 0) notes.Add($"ignored top-level entries: {string.Join(", ", others)}");
        }
        if (skipped > 0) notes.Add($"ignored {skipped} non-tensor entries inside the state dict");
        return (tensors, where, notes);
    }

    /// <summary>Nesting levels searched; a pickle can make a dict contain itself (memo GET), which must not recurse forever.</summary>
    private const int MaxDepth = 8;

    private static (OrderedDictionary<object, object?>, string)? Find(object? node, string path, string file, int depth = 0)
    {
        if (node is not OrderedDictionary<object, object?> d || depth > MaxDepth) return null;
        int tensors = d.Values.Count(v => v is TorchTensorRef);
        if (tensors > 0 && tensors * 2 >= d.Count) return (d, path);
        foreach (string key in NestingKeys)
            if (d.TryGetValue(key, out object? child) && Find(child, path.Length == 0 ? key : path + "." + key, file, depth + 1) is { } found)
                return found;
        return null;
    }

    private static string Describe(object? root) => root switch
    {
        OrderedDictionary<object, object?> d => d.Count == 0 ? "(empty dict)" : string.Join(", ", d.Keys.Take(12).Select(k => $"'{k}'")) + (d.Count > 12 ? ", ..." : ""),
        null => "None",
        _ => $"a {root.GetType().Name}, not a dict",
    };
}
