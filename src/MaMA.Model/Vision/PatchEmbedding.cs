using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// DINOv2 PatchEmbed: a conv with kernel = stride = patch (<c>proj</c>: weight [C, Cin, p, p],
/// bias [C]) flattened to one token per patch, row-major over the grid. No norm (Identity in
/// DINOv2). H and W must be multiples of the patch (DINOv2 asserts it rather than dropping pixels).
/// </summary>
public sealed class PatchEmbedding : Module
{
    public PatchEmbedding(VisionConfig config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        PatchSize = config.PatchSize;
        InChannels = config.InChannels;
        Proj = RegisterModule("proj", new PatchProjection(config.InChannels, config.EmbedDim, config.PatchSize, rng, device));
    }

    /// <summary>p.</summary>
    public int PatchSize { get; }

    public int InChannels { get; }

    public PatchProjection Proj { get; }

    /// <summary>pixels [B, Cin, H, W] -> tokens [B, P, C] with P = (H / p) (W / p) (a transposed view).</summary>
    public Tensor Forward(Tensor pixels)
    {
        if (pixels.Rank != 4 || pixels.Shape[1] != InChannels)
            throw new ArgumentException($"The ViT expects pixels [B, {InChannels}, H, W], got {Shape.Format(pixels.Shape)}.", nameof(pixels));
        int h = pixels.Shape[2], w = pixels.Shape[3];
        if (h % PatchSize != 0 || w % PatchSize != 0 || h == 0 || w == 0)
            throw new ArgumentException($"Image size {h}x{w} is not a positive multiple of the patch size {PatchSize}; resize or crop the image to a multiple of {PatchSize}.", nameof(pixels));
        Tensor grid = Ops.PatchEmbed(pixels, Proj.Weight, Proj.Bias, PatchSize); // [B, C, H/p, W/p]
        int b = grid.Shape[0], c = grid.Shape[1];
        return grid.Reshape(b, c, -1).Transpose(1, 2); // [B, C, P] -> [B, P, C]
    }
}

/// <summary>
/// The patch conv's parameters (torch.nn.Conv2d(Cin, C, p, stride p)): weight [C, Cin, p, p] and
/// bias [C], initialised as PyTorch's Conv2d default (DINOv2 leaves it alone):
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both, fan_in = Cin p p.
/// </summary>
public sealed class PatchProjection : Module
{
    public PatchProjection(int inChannels, int embedDim, int patch, Random rng, Device? device = null)
    {
        double bound = 1.0 / Math.Sqrt(inChannels * patch * patch);
        Weight = RegisterParameter("weight", VitInit.Uniform(rng, [embedDim, inChannels, patch, patch], bound, device));
        Bias = RegisterParameter("bias", VitInit.Uniform(rng, [embedDim], bound, device), noWeightDecay: true);
    }

    /// <summary>[C, Cin, p, p].</summary>
    public Parameter Weight { get; }

    /// <summary>[C].</summary>
    public Parameter Bias { get; }
}
