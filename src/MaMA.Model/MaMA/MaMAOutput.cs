using MaMA.Engine.Tensors;

namespace MaMA.Model.MaMA;

/// <summary>
/// Everything one <see cref="MaMAModel.Forward"/> computes. Loss terms are 0-d tensors on the
/// model's device (differentiable when recorded); the late terms are null before the late-loss
/// step. <see cref="Loss"/> = ClipV1 + w (lambda NtXent + ClipV2 + SlaT2I + SlaI2T).
/// </summary>
public sealed record MaMAOutput
{
    /// <summary>The objective to back-propagate.</summary>
    public required Tensor Loss { get; init; }

    /// <summary>CLIP(v1, t).</summary>
    public required Tensor LossClipV1 { get; init; }

    /// <summary>CLIP(v2, t) (late).</summary>
    public Tensor? LossClipV2 { get; init; }

    /// <summary>NT-Xent(z0 = g(view 2), z1 = g(view 1)), unweighted (late).</summary>
    public Tensor? LossNtXent { get; init; }

    /// <summary>SLA CE(l t2i) + CE(l t2i^T) (late).</summary>
    public Tensor? LossSlaT2I { get; init; }

    /// <summary>SLA CE(l i2t) + CE(l i2t^T) (late).</summary>
    public Tensor? LossSlaI2T { get; init; }

    /// <summary>True when the late terms were computed (step &gt;= LateLossStep).</summary>
    public bool Late => LossNtXent is not null;

    /// <summary>In-batch retrieval accuracies of the global embeddings of view 1 (percent).</summary>
    public required RetrievalAccuracy Accuracy { get; init; }

    /// <summary>View 1 image outputs (x_prenorm, x_norm, pooled feature, embedding v1 [N, E]).</summary>
    public required ImageEncoding Image { get; init; }

    /// <summary>Report outputs (hidden, pooled, embedding t [N, E], sentences, offsets).</summary>
    public required TextEncoding Text { get; init; }

    /// <summary>View 2 image outputs (late).</summary>
    public ImageEncoding? Image2 { get; init; }

    /// <summary>Patch embeddings of view 1 [N, P, E], L2-normalised (late).</summary>
    public Tensor? PatchEmbedding { get; init; }

    /// <summary>Sentence embeddings [sum S, E], L2-normalised, rows per <see cref="TextEncoding.Offsets"/> (late).</summary>
    public Tensor? SentenceEmbedding { get; init; }
}
