using MaMA.Distributed.Autograd;
using MaMA.Distributed.Communication;
using MaMA.Distributed.Losses;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// <see cref="MaMAModel.Forward"/> for one rank's share of a global micro-batch: the encoders and
/// heads run on the local n_r pairs, and each contrastive term takes its negatives as
/// <see cref="Negatives"/> says: <see cref="Negatives.PerRank"/> gathers only NT-Xent's z0 and z1
/// (the published run), <see cref="Negatives.Global"/> gathers every term's embeddings (v1 and t
/// once, reused by CLIP(v2, t); z0, z1; patches, sentences and their offsets), so the loss is the
/// single-process loss of the concatenated batch. The terms, their order and the freezing are those
/// of MaMAModel.Forward; the gathers go through its <see cref="ContrastiveNegatives"/> hook, so the
/// loss assembly exists once.
/// <para>
/// Not global in either mode: the BatchNorm layers of the SimCLR and local heads normalise over the
/// local n_r rows, as the published DDP run (it does not use SyncBatchNorm).
/// </para>
/// </summary>
public sealed class DistributedMaMAForward
{
    public DistributedMaMAForward(ICommunicator comm, MaMAModel model, Negatives negatives, GatherBackward backward = GatherBackward.Replicated)
    {
        Communicator = comm ?? throw new ArgumentNullException(nameof(comm));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Negatives = negatives;
        TermNegatives = PlanFor(comm, negatives, backward);
    }

    public ICommunicator Communicator { get; }

    public MaMAModel Model { get; }

    public Negatives Negatives { get; }

    /// <summary>The gather each term uses on this group (all local for a group of one).</summary>
    public ContrastiveNegatives TermNegatives { get; }

    /// <summary>Every term at global step <paramref name="step"/> (the same on every rank).</summary>
    public MaMAOutput Forward(MaMABatch batch, long step) => Model.Forward(batch, step, TermNegatives);

    private static ContrastiveNegatives PlanFor(ICommunicator comm, Negatives negatives, GatherBackward backward)
    {
        if (comm.Size == 1) return ContrastiveNegatives.Local;
        var ranks = new RankGather(comm, backward);
        return negatives switch
        {
            Negatives.PerRank => new ContrastiveNegatives(Clip: LocalBatch.Instance, InterView: ranks, LocalAlignment: LocalBatch.Instance),
            Negatives.Global => new ContrastiveNegatives(ranks, ranks, ranks),
            _ => throw new ArgumentOutOfRangeException(nameof(negatives), negatives, "negatives must be per_rank or global."),
        };
    }

    /// <summary>Gathers across ranks in rank order; gradients flow back per <see cref="GatherBackward"/>.</summary>
    private sealed class RankGather(ICommunicator comm, GatherBackward backward) : IBatchGather
    {
        public Tensor Gather(Tensor local) => GatherWithGrad.Gather(comm, local, backward).All;

        public Tensor GatherOffsets(Tensor localOffsets) => GlobalLosses.GatherOffsets(comm, localOffsets, localOffsets.Device);
    }
}
