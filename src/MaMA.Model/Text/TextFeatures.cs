using MaMA.Engine;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;

namespace MaMA.Model.Text;

/// <summary>
/// The text features MaMA takes from the ln_f hidden states (SPEC section 4): a global feature per
/// report and the packed sentence features (hidden states at the SEP tokens) for the local loss.
/// Both are differentiable with respect to the hidden states.
/// </summary>
public static class TextFeatures
{
    /// <summary>
    /// hidden [B, T, C] -> [B, C].
    /// <see cref="TextPooling.MeanAll"/> (reference mode): mean over all T positions, padding
    /// included; the mask is not read. <see cref="TextPooling.MaskedMean"/>: mean over positions with
    /// attentionMask != 0; a row with no such position gives zeros.
    /// </summary>
    public static Tensor GlobalFeature(Tensor hidden, Tensor attentionMask, TextPooling pooling = TextPooling.MeanAll)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (hidden.Rank != 3) throw new ArgumentException($"text features: hidden must be [B, T, C], got {Shape.Format(hidden.Shape)}.", nameof(hidden));
        int b = hidden.Size(0), t = hidden.Size(1);
        if (attentionMask.Rank != 2 || attentionMask.Size(0) != b || attentionMask.Size(1) != t)
            throw new ArgumentException($"text features: attention_mask must be [B, T] = [{b}, {t}], got {Shape.Format(attentionMask.Shape)}.", nameof(attentionMask));
        switch (pooling)
        {
            case TextPooling.MeanAll:
                return Ops.Mean(hidden, [1]);
            case TextPooling.MaskedMean:
                // Weights mask / count per position, so one multiply and one sum do the masked mean.
                float[] keep = HostFloats(attentionMask);
                var weights = new float[keep.Length];
                for (int row = 0; row < b; row++)
                {
                    float count = 0f;
                    for (int i = 0; i < t; i++) count += keep[row * t + i] != 0f ? 1f : 0f;
                    for (int i = 0; i < t; i++) weights[row * t + i] = keep[row * t + i] != 0f ? 1f / count : 0f;
                }
                // Not disposed here: the multiply's backward keeps it.
                Tensor w = Tensor.FromArray(weights, [b, t, 1], hidden.Device);
                return Ops.Sum(Ops.Mul(hidden, w), [1]);
            default:
                throw new ArgumentOutOfRangeException(nameof(pooling), pooling, "Unknown text pooling.");
        }
    }

    /// <summary>
    /// The hidden states at the SEP tokens (the reference's find_all_sep_tokens), packed in report
    /// order: <c>Sentences</c> [sum S_m, C] and <c>Offsets</c> [B + 1] int64, report m owning rows
    /// offsets[m] .. offsets[m + 1] in ascending token order. A row without a SEP token (all cut
    /// by truncation, say) gets S_m = 0: its offsets are equal and it owns no row. The local loss
    /// (Losses.SymmetricLocalAlignment) rejects such a report, so callers drop or fix it first;
    /// MaMA's reports always keep several SEPs within 144 tokens. Gradients flow back to
    /// <paramref name="hidden"/> (an embedding-style gather over hidden viewed as [B * T, C],
    /// whose backward scatters into the SEP rows).
    /// </summary>
    public static (Tensor Sentences, Tensor Offsets) SentenceFeatures(Tensor hidden, Tensor inputIds, int sepTokenId)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(inputIds);
        if (hidden.Rank != 3) throw new ArgumentException($"text features: hidden must be [B, T, C], got {Shape.Format(hidden.Shape)}.", nameof(hidden));
        int b = hidden.Size(0), t = hidden.Size(1), c = hidden.Size(2);
        if (inputIds.Rank != 2 || inputIds.Size(0) != b || inputIds.Size(1) != t || inputIds.DType is not (DType.Int64 or DType.Int32))
            throw new ArgumentException($"text features: input_ids must be int64 or int32 [B, T] = [{b}, {t}], got {Shape.Format(inputIds.Shape)} {inputIds.DType}.", nameof(inputIds));

        long[] ids = inputIds.DType == DType.Int64 ? inputIds.ToArray<long>() : Array.ConvertAll(inputIds.ToArray<int>(), i => (long)i);
        var rows = new List<int>();
        var offsets = new long[b + 1];
        for (int m = 0; m < b; m++)
        {
            for (int i = 0; i < t; i++)
                if (ids[m * t + i] == sepTokenId) rows.Add(m * t + i);
            offsets[m + 1] = rows.Count;
        }

        using Tensor index = Tensor.FromArray(rows.ToArray(), [rows.Count], hidden.Device);
        Tensor sentences = Ops.Embedding(hidden.Reshape(b * t, c), index);   // [sum S, C]
        return (sentences, Tensor.FromArray(offsets, [b + 1], hidden.Device));
    }

    private static float[] HostFloats(Tensor t) => t.DType switch
    {
        DType.Int64 => Array.ConvertAll(t.ToArray<long>(), v => (float)v),
        DType.Int32 => Array.ConvertAll(t.ToArray<int>(), v => (float)v),
        DType.Bool => Array.ConvertAll(t.ToArray<bool>(), v => v ? 1f : 0f),
        _ => t.ToFloatArray(),
    };
}
