using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Losses;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Heads;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.MaMA;

/// <summary>
/// The MaMA model (SPEC sections 3-6; the published Lightning module <c>MaMACLIP</c> with
/// pool_feat, pool_txt_feat, slip, symmetric_clip, local_contrast and symmetric_local). State-dict
/// keys are the published ones: <c>logit_scale</c>, <c>local_scale</c>, <c>img_encoder_q.*</c>
/// (<see cref="DinoEncoder"/>), <c>text_encoder_q.*</c> (<see cref="CausalLMEncoder"/>) and
/// <c>simclr_proj.layers.*</c> (<see cref="SimClrProjectionHead"/>(C, C, E)).
/// <para>
/// Freezing: the ViT's mask token and final norm (in <see cref="DinoEncoder"/>), the text model's
/// base weights under LoRA (in the text model), and, before <see cref="MaMAConfig.LateLossStep"/>,
/// both local heads and <c>local_scale</c>. <see cref="Forward"/> calls <see cref="ApplyFreezing"/>
/// with its step, so a trainer only has to pass the global step.
/// </para>
/// </summary>
public sealed class MaMAModel : Module
{
    public MaMAModel(MaMAConfig config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        ImageEncoder = RegisterModule("img_encoder_q", new DinoEncoder(config.Vision, config.EmbedDim, config.LocalHiddenDim, rng, device));
        TextEncoder = RegisterModule("text_encoder_q", new CausalLMEncoder(config.Text, config.EmbedDim, config.LocalHiddenDim, config.SepTokenId, config.TextPooling, rng, device));
        LogitScale = RegisterParameter("logit_scale", Tensor.FromArray(new[] { config.ScaleInit }, [], device), noWeightDecay: true);
        LocalScale = RegisterParameter("local_scale", Tensor.FromArray(new[] { config.ScaleInit }, [], device), noWeightDecay: true);
        int c = config.Vision.EmbedDim;
        SimClrProj = RegisterModule("simclr_proj", new SimClrProjectionHead(c, c, config.EmbedDim, rng, device));
        ImageEncoder.Model.UseActivationCheckpointing = config.ActivationCheckpointing;
        TextEncoder.Model.UseActivationCheckpointing = config.ActivationCheckpointing;
        ApplyFreezing(0);
    }

    public MaMAConfig Config { get; }

    /// <summary><c>img_encoder_q</c>.</summary>
    public DinoEncoder ImageEncoder { get; }

    /// <summary><c>text_encoder_q</c>.</summary>
    public CausalLMEncoder TextEncoder { get; }

    /// <summary>log s of the global CLIP loss, 0-d, initialised to ln(1/0.07).</summary>
    public Parameter LogitScale { get; }

    /// <summary>log l of the local (SLA) loss, 0-d, initialised to ln(1/0.07).</summary>
    public Parameter LocalScale { get; }

    /// <summary>g, the SimCLR head of the inter-view loss.</summary>
    public SimClrProjectionHead SimClrProj { get; }

    /// <summary>True from the late-loss step on: second view, NT-Xent, CLIP(v2, t) and SLA join the loss.</summary>
    public bool IsLate(long step) => step >= Config.LateLossStep;

    /// <summary>
    /// Both local heads and <c>local_scale</c> train only from the late-loss step on (published:
    /// frozen at construction when late_loss &gt; 0, unfrozen at that step). Idempotent; called by
    /// <see cref="Forward"/>. Freezing clears their gradients.
    /// </summary>
    public void ApplyFreezing(long step)
    {
        bool late = IsLate(step);
        IEnumerable<Parameter> local = ImageEncoder.LocalEmbed.Parameters().Concat(TextEncoder.LocalEmbed.Parameters()).Append(LocalScale);
        foreach (Parameter p in local)
        {
            if (late && p.IsFrozen) p.Unfreeze();
            else if (!late && !p.IsFrozen) p.Freeze();
        }
    }

    /// <summary>
    /// Keys the text model's dropout streams (embedding, attention and residual dropout) from
    /// <paramref name="seed"/>, as the LoRA streams are keyed from the construction seed; see
    /// <see cref="Text.Gpt2Transformer.SeedDropout"/>.
    /// </summary>
    public void SeedDropout(ulong seed) => TextEncoder.Model.Transformer.SeedDropout(seed);

    /// <summary>Image path alone (zero-shot, probing): pixels [B, 3, H, W] -> ViT outputs, pooled feature, embedding [B, E].</summary>
    public ImageEncoding EncodeImage(Tensor pixels) => ImageEncoder.Encode(pixels);

    /// <summary>Text path alone: ids, mask [B, T] -> hidden states, pooled feature, embedding [B, E], sentence features.</summary>
    public TextEncoding EncodeText(Tensor inputIds, Tensor attentionMask) => TextEncoder.Encode(inputIds, attentionMask);

    /// <summary>
    /// Every term of SPEC section 6 for one micro-batch at global step <paramref name="step"/>, in
    /// the published order (which fixes the order of BatchNorm running-statistics updates):
    /// <list type="number">
    /// <item>view 1: pooled feature f1, v1 = norm(global_embed(f1)); report: t;
    /// <c>LossClipV1</c> = CLIP(v1, t).</item>
    /// <item>late only: view 2 is encoded (f2); z0 = g(f2), then z1 = g(f1) (two BatchNorm batches
    /// of N); <c>LossNtXent</c> = NT-Xent(z0, z1, tau) (it normalises); v2 = norm(global_embed(f2)),
    /// <c>LossClipV2</c> = CLIP(v2, t).</item>
    /// <item>late only: patch embeddings norm(local_embed(x_norm patches)) [N, P, E], sentence
    /// embeddings norm(local_embed(sentences of report m)) per report; SLA with l = exp(local_scale).</item>
    /// </list>
    /// <c>Loss</c> = ClipV1 + lambda NtXent + ClipV2 + SlaT2I + SlaI2T (late), ClipV1 before.
    /// Accuracies come from v1 and t. Training or evaluation follows the module mode (BatchNorm).
    /// <paramref name="negatives"/> supplies each term's negatives: the local batch by default; in
    /// data-parallel training a term may take the global batch across ranks (its embeddings are
    /// gathered; encoders and heads always run on the local rows).
    /// </summary>
    public MaMAOutput Forward(MaMABatch batch, long step, ContrastiveNegatives? negatives = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ContrastiveNegatives g = negatives ?? ContrastiveNegatives.Local;
        ApplyFreezing(step);
        bool late = IsLate(step);
        if (late && batch.PixelValues2 is null)
            throw new ArgumentException($"MaMA forward at step {step} (late loss from step {Config.LateLossStep}) needs the second view (pixel_values_2).", nameof(batch));
        int n = batch.PixelValues.Rank == 4 ? batch.PixelValues.Shape[0] : -1;
        if (n <= 0 || batch.InputIds.Rank != 2 || batch.InputIds.Shape[0] != n)
            throw new ArgumentException($"MaMA forward: pixel_values must be [N, 3, H, W] and input_ids [N, T] with the same N, got {Shape.Format(batch.PixelValues.Shape)} and {Shape.Format(batch.InputIds.Shape)}.", nameof(batch));
        if (late && !Shape.SameShape(batch.PixelValues2!.Shape, batch.PixelValues.Shape))
            throw new ArgumentException($"MaMA forward: pixel_values_2 {Shape.Format(batch.PixelValues2.Shape)} must have the shape of pixel_values {Shape.Format(batch.PixelValues.Shape)}.", nameof(batch));

        ImageEncoding image = ImageEncoder.Encode(batch.PixelValues);
        TextEncoding text = TextEncoder.Encode(batch.InputIds, batch.AttentionMask);
        Tensor v1 = g.Clip.Gather(image.Embedding);
        Tensor t = g.Clip.Gather(text.Embedding);
        Tensor clipV1 = Losses.ClipLoss(v1, t, LogitScale);
        RetrievalAccuracy accuracy;
        using (GradMode.NoGrad()) accuracy = RetrievalAccuracy.FromEmbeddings(v1, t);
        if (!late)
            return new MaMAOutput { Loss = clipV1, LossClipV1 = clipV1, Accuracy = accuracy, Image = image, Text = text };

        // Inter-view: z0 from view 2 first, then z1 from view 1, as the published order.
        ImageEncoding image2 = ImageEncoder.Encode(batch.PixelValues2!);
        Tensor z0 = SimClrProj.Forward(image2.Pooled);
        Tensor z1 = SimClrProj.Forward(image.Pooled);
        Tensor ntXent = Losses.InterViewContrast(g.InterView.Gather(z0), g.InterView.Gather(z1), Config.NtXentTemperature);
        Tensor clipV2 = Losses.ClipLoss(g.Clip.Gather(image2.Embedding), t, LogitScale);

        Tensor patches = ImageEncoder.PatchEmbeddings(image);         // [N, P, E]
        Tensor sentences = TextEncoder.SentenceEmbeddings(text);      // [sum S, E]
        SymmetricLocalAlignmentResult sla = Losses.SymmetricLocalAlignment(
            g.LocalAlignment.Gather(patches), g.LocalAlignment.Gather(sentences), g.LocalAlignment.GatherOffsets(text.Offsets), LocalScale);

        Tensor late1 = Config.InterViewWeight == 1f ? ntXent : Ops.Scale(ntXent, Config.InterViewWeight);
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
}
