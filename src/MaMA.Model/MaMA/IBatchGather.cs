using MaMA.Engine.Tensors;

namespace MaMA.Model.MaMA;

/// <summary>
/// Where a contrastive term of <see cref="MaMAModel.Forward"/> finds its negatives. In one process
/// they are the local batch (<see cref="LocalBatch"/>); data-parallel training supplies a gather
/// across ranks for the terms that take the global batch (MaMA.Distributed, <see cref="ContrastiveNegatives"/>).
/// </summary>
public interface IBatchGather
{
    /// <summary>Rows of every rank in rank order: [n_local, ...] -> [n_global, ...], differentiable.</summary>
    Tensor Gather(Tensor local);

    /// <summary>Packed-sentence offsets [n_local + 1] -> the offsets of the gathered sentences [n_global + 1].</summary>
    Tensor GatherOffsets(Tensor localOffsets);
}

/// <summary>The single-process batch: every gather is the identity.</summary>
public sealed class LocalBatch : IBatchGather
{
    public static LocalBatch Instance { get; } = new();

    public Tensor Gather(Tensor local) => local;

    public Tensor GatherOffsets(Tensor localOffsets) => localOffsets;
}
