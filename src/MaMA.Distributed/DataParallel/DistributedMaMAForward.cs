using MaMA.Distributed.Autograd;
using MaMA.Distributed.Communication;
using MaMA.Distributed.Losses;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// <see cref="MaMAModel.Forward"/> for one rank's share of a global micro-batch: the encoders and
/// heads run on the local n_r pairs, and every contrastive term is taken over the gathered global
/// batch (rank order), so the loss is the single-process loss of the concatenated batch. The terms,
/// their order and the freezing are those of MaMAModel.Forward; only the embeddings are gathered
/// (v1 and t once, reused by CLIP(v2, t); z0, z1; patches, sentences and their offsets) through
/// the <see cref="IBatchGather"/> hook of MaMAModel.Forward, so the loss assembly exists once.
/// <para>
/// Not global: the BatchNorm layers of the SimCLR and local heads normalise over the local n_r rows,
/// as the published DDP run (it does not use SyncBatchNorm). Before the late-loss step no BatchNorm
/// runs and a step equals the single-process step over the global batch exactly; from it on the
/// heads see per-rank batch statistics.
/// </para>
/// </summary>
public sealed class DistributedMaMAForward(ICommunicator comm, MaMAModel model, GatherBackward backward = GatherBackward.Replicated)
{
    public ICommunicator Communicator { get; } = comm ?? throw new ArgumentNullException(nameof(comm));

    public MaMAModel Model { get; } = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>Every term over the global batch at global step <paramref name="step"/> (the same on every rank).</summary>
    public MaMAOutput Forward(MaMABatch batch, long step) => Model.Forward(batch, step, new RankGather(Communicator, backward));

    /// <summary>Gathers across ranks in rank order; gradients flow back per <see cref="GatherBackward"/>.</summary>
    private sealed class RankGather(ICommunicator comm, GatherBackward backward) : IBatchGather
    {
        public Tensor Gather(Tensor local) => comm.Size == 1 ? local : GatherWithGrad.Gather(comm, local, backward).All;

        public Tensor GatherOffsets(Tensor localOffsets) => GlobalLosses.GatherOffsets(comm, localOffsets, localOffsets.Device);
    }
}
