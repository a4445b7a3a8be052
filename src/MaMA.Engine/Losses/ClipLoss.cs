using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Losses;

/// <summary>MaMA's training losses (SPEC 6).</summary>
public static partial class Losses
{
    /// <summary>
    /// The symmetric image-text contrastive (CLIP) loss of MaMA, CLIP(v, t) = CE(s v t^T) + CE(s t v^T)
    /// with s = exp(<paramref name="logitScale"/>) and CE(M) = mean over rows i of -log softmax(M[i])[i]
    /// (pair i is the positive of row i). <paramref name="image"/> v and <paramref name="text"/> t are
    /// [N, E] and already L2-normalised (this op does not normalise); <paramref name="logitScale"/> is
    /// the learnable log-scale, a 0-d (or one-element) tensor, used as is (clamp it before if the
    /// model does). Returns a 0-d fp32 loss; v, t and the log-scale all get gradients. bf16/fp16
    /// inputs are computed in fp32.
    /// <para>
    /// One fused kernel family: S = v t^T by GEMM, then a single pass gives both log-softmax
    /// normalisers of every row and column of s S, both cross-entropies and d loss / d logitScale;
    /// the backward writes G = s (softmax_rows - I) / N + s (softmax_cols - I) / N once and takes
    /// dv = G t, dt = G^T v (see <see cref="ContrastiveFusion"/> for the derivation).
    /// </para>
    /// </summary>
    public static Tensor ClipLoss(Tensor image, Tensor text, Tensor logitScale)
    {
        if (Autocast.Lowers(image, text)) return ClipLoss(Autocast.Lower(image), Autocast.Lower(text), logitScale);
        const string op = "clip_loss";
        Dispatch.SameDevice(op, image, text, logitScale);
        Dispatch.RequireFloat(op, image);
        Dispatch.RequireFloat(op, text);
        Dispatch.RequireFloat(op, logitScale);
        if (image.Rank != 2)
            throw new ArgumentException($"{op}: image embeddings must be [N, E], got {Shape.Format(image.Shape)}.", nameof(image));
        if (text.Rank != 2)
            throw new ArgumentException($"{op}: text embeddings must be [N, E], got {Shape.Format(text.Shape)}.", nameof(text));
        if (!Shape.SameShape(image.Shape, text.Shape))
            throw new ArgumentException($"{op}: image {Shape.Format(image.Shape)} and text {Shape.Format(text.Shape)} embeddings must have the same shape [N, E] (one text per image).", nameof(text));
        if (image.Size(0) == 0)
            throw new ArgumentException($"{op}: no pairs (image embeddings {Shape.Format(image.Shape)}).", nameof(image));
        if (logitScale.Numel != 1)
            throw new ArgumentException($"{op}: the logit scale must be a 0-d tensor (the log of the scale), got {Shape.Format(logitScale.Shape)}.", nameof(logitScale));
        return ContrastiveFusion.Loss(op, image, text, logitScale, 0f, selfBlocks: false, inv: 1f / image.Size(0));
    }
}
