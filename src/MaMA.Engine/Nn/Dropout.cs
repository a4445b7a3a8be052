using MaMA.Engine.Tensors;

namespace MaMA.Engine.Nn;

/// <summary>
/// torch.nn.Dropout with a counter-based stream (<see cref="Ops.Dropout"/>): in training each
/// forward draws its mask at (<see cref="Seed"/>, <see cref="DropoutOffset"/>) and advances the offset,
/// so activation recomputation (which rewinds the offset) and a resumed run (which restores it) draw
/// the same masks; inside <see cref="DropoutRows.Scope"/> each sample draws the mask it has in the
/// whole batch. In evaluation, or with p = 0, it returns its input. No parameters, no state-dict keys.
/// </summary>
public sealed class Dropout : Module, IStochasticModule
{
    public Dropout(float p, ulong seed = 0)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1).");
        Probability = p;
        Seed = seed;
    }

    /// <summary>Drop probability.</summary>
    public float Probability { get; }

    /// <summary>The stream's Philox key.</summary>
    public ulong Seed { get; set; }

    /// <summary>Position of the next training forward's mask.</summary>
    public ulong DropoutOffset { get; set; }

    /// <summary>True when a training forward draws a mask (training mode and p &gt; 0).</summary>
    public bool Active => IsTraining && Probability > 0f;

    /// <summary>
    /// A stream key for site <paramref name="site"/> of a model seeded with <paramref name="seed"/>
    /// (SplitMix64's finaliser over both), so sites draw independent masks without consuming a
    /// model's initialisation random numbers.
    /// </summary>
    public static ulong StreamKey(ulong seed, ulong site)
    {
        ulong z = seed ^ (0x9E3779B97F4A7C15UL * (site + 1));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// The mask a training forward of this module would draw over attention probabilities
    /// [samples, heads, T, T], for <see cref="Ops.Attention"/> to apply inside its kernels (the
    /// matrix never exists): the same offset step and batch position as <see cref="Forward"/> on that
    /// tensor, so the fused op equals softmax, this module, then times v. <see cref="AttentionDropout.None"/>
    /// (no offset step) when not <see cref="Active"/>.
    /// </summary>
    public AttentionDropout ForAttention(int samples, int heads, int t)
    {
        if (!Active) return AttentionDropout.None;
        long elements = (long)samples * heads * t * t;
        long elementBase = DropoutRows.ElementBase(elements, $"attention probabilities [{samples}, {heads}, {t}, {t}]");
        return new AttentionDropout(Probability, Seed, DropoutOffset++, elementBase);
    }

    /// <summary>x [samples, ...] -> x with dropout applied in training.</summary>
    public Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!Active) return x;
        ulong offset = DropoutOffset++;
        return Ops.Dropout(x, Probability, Seed, offset, training: true, DropoutRows.ElementBase(x));
    }
}
