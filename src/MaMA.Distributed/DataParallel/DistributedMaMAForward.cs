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
/// (v1 and t once, reused by CLIP(v2, t); z0, z1; patches, sentences and their offsets).
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
    public MaMAOutput Forward(MaMABatch batch, long step)
    {
        ArgumentNullException.ThrowIfNull(batch);
        MaMAModel m = Model;
        m.ApplyFreezing(step);
        bool late = m.IsLate(step);
        if (late && batch.PixelValues2 is null)
            throw new ArgumentException($"MaMA forward at step {step} (late loss from step {m.Config.LateLossStep}) needs the second view (pixel_values_2).", nameof(batch));

        ImageEncoding image = m.ImageEncoder.Encode(batch.PixelValues);
        TextEncoding text = m.TextEncoder.Encode(batch.InputIds, batch.AttentionMask);
        Tensor v1 = Gather(image.Embedding);
        Tensor t = Gather(text.Embedding);
        Tensor clipV1 = Engine.Losses.Losses.ClipLoss(v1, t, m.LogitScale);
        RetrievalAccuracy accuracy;
        using (GradMode.NoGrad()) accuracy = RetrievalAccuracy.FromEmbeddings(v1, t);
        if (!late)
            return new MaMAOutput { Loss = clipV1, LossClipV1 = clipV1, Accuracy = accuracy, Image = image, Text = text };

        ImageEncoding image2 = m.ImageEncoder.Encode(batch.PixelValues2!);
        Tensor z0 = m.SimClrProj.Forward(image2.Pooled);
        Tensor z1 = m.SimClrProj.Forward(image.Pooled);
        Tensor ntXent = Engine.Losses.Losses.InterViewContrast(Gather(z0), Gather(z1), m.Config.NtXentTemperature);
        Tensor clipV2 = Engine.Losses.Losses.ClipLoss(Gather(image2.Embedding), t, m.LogitScale);

        Tensor patches = m.ImageEncoder.PatchEmbeddings(image);
        Tensor sentences = m.TextEncoder.SentenceEmbeddings(text);
        Tensor offsets = GlobalLosses.GatherOffsets(Communicator, text.Offsets, patches.Device);
        SymmetricLocalAlignmentResult sla = Engine.Losses.Losses.SymmetricLocalAlignment(Gather(patches), Gather(sentences), offsets, m.LocalScale);

        Tensor late1 = m.Config.InterViewWeight == 1f ? ntXent : Ops.Scale(ntXent, m.Config.InterViewWeight);
        Tensor total = Ops.Add(Ops.Add(Ops.Add(Ops.Add(clipV1, late1), clipV2), sla.LossT2I), sla.LossI2T);
        return new MaMAOutput
        {
            Loss = total,
            LossClipV1 = clipV1,
            LossClipV2 = clipV2,
            LossNtXent = ntXent,
            LossSlaT2I = sla.LossT2I,
            LossSlaI2T = sla.LossI2T,
            Accuracy = accuracy,
            Image = image,
            Text = text,
            Image2 = image2,
            PatchEmbedding = patches,
            SentenceEmbedding = sentences,
        };
    }

    private Tensor Gather(Tensor local) => Communicator.Size == 1 ? local : GatherWithGrad.Gather(Communicator, local, backward).All;
}
