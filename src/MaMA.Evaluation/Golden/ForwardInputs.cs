using MaMA.Engine;
using MaMA.Engine.Tensors;
using MaMA.Model.Text;
using MaMA.Model.Vision;

namespace MaMA.Evaluation.Golden;

/// <summary>The input file's tensors with checks whose errors name the tensor; remembers which were used.</summary>
internal sealed class ForwardInputs(IReadOnlyDictionary<string, Tensor> tensors)
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public IEnumerable<string> Unused() => tensors.Keys.Where(k => !_used.Contains(k)).Order(StringComparer.Ordinal);

    /// <summary>A floating [B, Cin, H, W] image batch with H, W multiples of the patch, or null when absent.</summary>
    public Tensor? Pixels(string name, VisionConfig vision)
    {
        if (!tensors.TryGetValue(name, out Tensor? t)) return null;
        _used.Add(name);
        if (!t.DType.IsFloating())
            throw new ForwardInputException($"'{name}' must be a floating tensor (F32, BF16, F16), got {t.DType.SafetensorsName()}.");
        if (t.Rank != 4 || t.Shape[0] == 0 || t.Shape[1] != vision.InChannels || t.Shape[2] % vision.PatchSize != 0 || t.Shape[3] % vision.PatchSize != 0 || t.Shape[2] == 0 || t.Shape[3] == 0)
            throw new ForwardInputException($"'{name}' must be [B, {vision.InChannels}, H, W] with B >= 1 and H, W positive multiples of the patch size {vision.PatchSize}, got {Shape.Format(t.Shape)}.");
        return t;
    }

    /// <summary>input_ids [B, T] (int) and attention_mask [B, T] (all ones when absent), or null without input_ids.</summary>
    public (Tensor Ids, Tensor Mask)? Tokens(Gpt2Config text)
    {
        if (!tensors.TryGetValue("input_ids", out Tensor? ids))
        {
            if (tensors.ContainsKey("attention_mask")) throw new ForwardInputException("'attention_mask' is given without 'input_ids'.");
            return null;
        }
        _used.Add("input_ids");
        if (ids.DType is not (DType.Int64 or DType.Int32))
            throw new ForwardInputException($"'input_ids' must be an integer tensor (I64 or I32), got {ids.DType.SafetensorsName()}.");
        if (ids.Rank != 2 || ids.Shape[0] == 0 || ids.Shape[1] == 0)
            throw new ForwardInputException($"'input_ids' must be [B, T] with B, T >= 1, got {Shape.Format(ids.Shape)}.");
        if (ids.Shape[1] > text.NPositions)
            throw new ForwardInputException($"'input_ids' has T = {ids.Shape[1]} tokens but the model has {text.NPositions} positions.");
        long[] values = Values(ids);
        long bad = values.FirstOrDefault(v => v < 0 || v >= text.VocabSize, -1);
        if (values.Any(v => v < 0 || v >= text.VocabSize))
            throw new ForwardInputException($"'input_ids' holds token id {bad}, outside the vocabulary [0, {text.VocabSize}).");
        Tensor mask;
        if (tensors.TryGetValue("attention_mask", out Tensor? m))
        {
            _used.Add("attention_mask");
            if (!Shape.SameShape(m.Shape, ids.Shape))
                throw new ForwardInputException($"'attention_mask' has shape {Shape.Format(m.Shape)} but 'input_ids' has {Shape.Format(ids.Shape)}.");
            if (m.DType is not (DType.Int64 or DType.Int32 or DType.Bool) && !m.DType.IsFloating())
                throw new ForwardInputException($"'attention_mask' must be integer, bool or floating, got {m.DType.SafetensorsName()}.");
            mask = m;
        }
        else mask = Tensor.Ones(ids.Shape, ids.Device);
        return (ids, mask);
    }

    /// <summary>An integer tensor's values as int64.</summary>
    public static long[] Values(Tensor ids) => ids.DType == DType.Int64 ? ids.ToArray<long>() : Array.ConvertAll(ids.ToArray<int>(), v => (long)v);
}
