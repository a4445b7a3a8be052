using MaMA.Distributed.Autograd;
using MaMA.Distributed.Communication;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.Losses;

/// <summary>
/// MaMA's contrastive losses with global negatives: each rank gathers every rank's embeddings
/// (<see cref="GatherWithGrad"/>, rank order) and evaluates the unchanged single-process loss
/// (<see cref="Engine.Losses.Losses"/>) over the global batch, so the value on every rank equals the
/// single-process loss over the concatenated batch, and (with <see cref="GatherBackward.SumOverRanks"/>
/// or <see cref="GatherBackward.Replicated"/> and averaged gradients) so does the gradient.
/// <para>
/// Cost: every rank computes the whole global loss (the "replicated" form); the CLIP and NT-Xent
/// terms are O(N_g^2 E) and negligible, the SLA is O(N_g^2 P S E), R times the per-rank share. The
/// open_clip "local loss" (only the local rows, [n_r, N_g] logits) would divide that by R but needs
/// row-block versions of the fused kernels; see docs/distributed.md.
/// </para>
/// </summary>
public static class GlobalLosses
{
    /// <summary>CLIP(v, t) over the global batch; v, t [n_r, E] on each rank, logitScale replicated.</summary>
    public static Tensor Clip(ICommunicator comm, Tensor image, Tensor text, Tensor logitScale, GatherBackward backward = GatherBackward.Replicated)
    {
        Tensor v = GatherWithGrad.Gather(comm, image, backward).All;
        Tensor t = GatherWithGrad.Gather(comm, text, backward).All;
        return Engine.Losses.Losses.ClipLoss(v, t, logitScale);
    }

    /// <summary>NT-Xent(z0, z1) over the global batch; z0, z1 [n_r, E] unnormalised head outputs.</summary>
    public static Tensor InterView(ICommunicator comm, Tensor z0, Tensor z1, float temperature, GatherBackward backward = GatherBackward.Replicated)
    {
        Tensor a = GatherWithGrad.Gather(comm, z0, backward).All;
        Tensor b = GatherWithGrad.Gather(comm, z1, backward).All;
        return Engine.Losses.Losses.InterViewContrast(a, b, temperature);
    }

    /// <summary>
    /// SLA over the global batch. patches [n_r, P, E], sentences [sum S (rank r), E] with
    /// offsets [n_r + 1] local to the rank; the gathered sentences keep rank order, so the global
    /// offsets are the concatenated per-report counts' running sum.
    /// </summary>
    public static SymmetricLocalAlignmentResult LocalAlignment(ICommunicator comm, Tensor patches, Tensor sentences, Tensor sentenceOffsets, Tensor localScale,
        GatherBackward backward = GatherBackward.Replicated)
    {
        Tensor p = GatherWithGrad.Gather(comm, patches, backward).All;
        Tensor s = GatherWithGrad.Gather(comm, sentences, backward).All;
        Tensor offsets = GatherOffsets(comm, sentenceOffsets, patches.Device);
        return Engine.Losses.Losses.SymmetricLocalAlignment(p, s, offsets, localScale);
    }

    /// <summary>Global [N_g + 1] int64 offsets from each rank's local [n_r + 1] offsets.</summary>
    public static Tensor GatherOffsets(ICommunicator comm, Tensor localOffsets, Engine.Devices.Device device)
    {
        long[] local = localOffsets.DType == DType.Int64 ? localOffsets.ToArray<long>()
            : localOffsets.DType == DType.Int32 ? Array.ConvertAll(localOffsets.ToArray<int>(), v => (long)v)
            : throw new ArgumentException($"sentence offsets must be int64 or int32, got {localOffsets.DType}.", nameof(localOffsets));
        var counts = new long[local.Length - 1];
        for (int m = 0; m < counts.Length; m++) counts[m] = local[m + 1] - local[m];
        (long[] all, _) = comm.AllGatherVariable<long>(counts);
        var global = new long[all.Length + 1];
        for (int m = 0; m < all.Length; m++) global[m + 1] = global[m] + all[m];
        return Tensor.FromArray(global, [global.Length], device);
    }
}
