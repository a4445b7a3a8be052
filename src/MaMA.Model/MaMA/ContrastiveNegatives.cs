namespace MaMA.Model.MaMA;

/// <summary>
/// The negatives of each contrastive term of <see cref="MaMAModel.Forward"/>, one
/// <see cref="IBatchGather"/> per term:
/// <list type="bullet">
/// <item><see cref="Clip"/>: v1, t and v2 of both CLIP terms (and the retrieval accuracies, which
/// score v1 against t);</item>
/// <item><see cref="InterView"/>: z0 and z1 of NT-Xent;</item>
/// <item><see cref="LocalAlignment"/>: the patch and sentence embeddings of the SLA.</item>
/// </list>
/// In one process every term uses the local batch (<see cref="Local"/>). Data-parallel training
/// picks per term (MaMA.Distributed): the published run gathers only NT-Xent's projections
/// (lightly's <c>NTXentLoss(gather_distributed=True)</c>) and keeps each GPU's batch for CLIP and SLA.
/// </summary>
public sealed record ContrastiveNegatives(IBatchGather Clip, IBatchGather InterView, IBatchGather LocalAlignment)
{
    /// <summary>Every term over the local batch.</summary>
    public static ContrastiveNegatives Local { get; } = new(LocalBatch.Instance, LocalBatch.Instance, LocalBatch.Instance);
}
