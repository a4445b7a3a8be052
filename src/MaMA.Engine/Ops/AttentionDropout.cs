using MaMA.Kernels.Cpu;
using MaMA.Kernels.Random;

namespace MaMA.Engine;

/// <summary>
/// Dropout on attention probabilities inside <see cref="Ops.Attention"/> (HF GPT-2's
/// <c>attn_dropout</c>, attn_pdrop, in training): probability (b, h, i, j) is kept with probability
/// 1 - <see cref="P"/> and scaled by 1 / (1 - p), by the mask <see cref="Ops.Dropout"/> draws at
/// (<see cref="Seed"/>, <see cref="Offset"/>) over the probabilities [B, H, T, T] flattened, whose
/// first element is element <see cref="ElementBase"/> of the whole batch (a data-parallel rank's
/// rows, <see cref="Nn.DropoutRows"/>; 0 in one process). So the fused op equals
/// <c>Ops.Dropout(softmax(scale q k^T + masks), p, seed, offset, training: true, elementBase)</c>
/// times v, without a T x T matrix. <see cref="None"/> (the default) drops nothing.
/// </summary>
public readonly record struct AttentionDropout(float P, ulong Seed, ulong Offset, long ElementBase = 0)
{
    /// <summary>No dropout (evaluation, or attn_pdrop 0).</summary>
    public static AttentionDropout None => default;

    /// <summary>True when probabilities are dropped (p &gt; 0).</summary>
    public bool Active => P > 0f;

    /// <summary>The kernels' mask (<see cref="DropoutMask.Off"/> when inactive).</summary>
    public DropoutMask Mask => Active ? DropoutMask.Create(P, Seed, Offset, ElementBase) : DropoutMask.Off;

    /// <summary>The fast CPU backend's mask (<see cref="PhiloxDropout.Off"/> when inactive).</summary>
    internal PhiloxDropout Cpu => Active ? new PhiloxDropout(P, Seed, Offset, ElementBase) : PhiloxDropout.Off;

    /// <summary>Throws unless p is in [0, 1), the base is not negative and the probabilities' indices fit the Philox counter (2^34 elements).</summary>
    internal void Validate(string op, long probabilities)
    {
        if (!(P >= 0f && P < 1f)) throw new ArgumentOutOfRangeException(nameof(P), P, $"{op}: dropout probability must be in [0, 1).");
        if (ElementBase < 0) throw new ArgumentOutOfRangeException(nameof(ElementBase), ElementBase, $"{op}: dropout element base must not be negative.");
        if (Active && (ElementBase + probabilities + 3) / 4 > uint.MaxValue)
            throw new ArgumentException($"{op}: probability indices up to {ElementBase + probabilities} exceed the Philox counter's 2^34 elements.");
    }
}
