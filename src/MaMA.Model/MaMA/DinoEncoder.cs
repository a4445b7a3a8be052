using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Heads;
using MaMA.Model.Vision;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.MaMA;

/// <summary>
/// MaMA's image encoder (published <c>DinoEncoder</c> with <c>linear_proj</c>), children in the
/// published order: <c>model</c> (the DINOv2 ViT), <c>global_embed</c> Linear(C, E) and
/// <c>local_embed</c> (<see cref="LocalEmbedding"/>(C, hidden, E)). The ViT's <c>mask_token</c> and
/// the final norm's weight and bias are frozen: the mask token is never used, and the global
/// feature pools the pre-norm tokens (published <c>pool_feat</c>), so the norm only feeds the
/// patch tokens of the local loss and does not train.
/// </summary>
public sealed class DinoEncoder : Module
{
    public DinoEncoder(VisionConfig vision, int embedDim, int localHiddenDim, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(vision);
        Model = RegisterModule("model", new DinoVisionTransformer(vision, rng, device));
        GlobalEmbed = RegisterModule("global_embed", new Linear(vision.EmbedDim, embedDim, rng, device: device));
        LocalEmbed = RegisterModule("local_embed", new LocalEmbedding(vision.EmbedDim, localHiddenDim, embedDim, rng, device));
        Model.MaskToken.Freeze();
        Model.Norm.Weight.Freeze();
        Model.Norm.Bias.Freeze();
    }

    public DinoVisionTransformer Model { get; }

    public Linear GlobalEmbed { get; }

    public LocalEmbedding LocalEmbed { get; }

    /// <summary>pixels [B, 3, H, W] -> ViT outputs, pooled feature [B, C] and global embedding [B, E].</summary>
    public ImageEncoding Encode(Tensor pixels)
    {
        VisionOutput vision = Model.Forward(pixels);
        Tensor pooled = Ops.Mean(vision.XPrenorm, [1]);                  // [B, C], cls + registers + patches
        Tensor embedding = Ops.L2Normalize(GlobalEmbed.Forward(pooled)); // [B, E]
        return new ImageEncoding(vision, pooled, embedding);
    }

    /// <summary>Patch embeddings [B, P, E]: L2-normalised <c>local_embed</c> of the x_norm patch tokens (one BatchNorm batch of B * P).</summary>
    public Tensor PatchEmbeddings(ImageEncoding image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Ops.L2Normalize(LocalEmbed.Forward(image.Vision.Patches));
    }
}
