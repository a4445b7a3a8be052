using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Demo;

/// <summary>
/// The demo's model: a one-layer ViT-style image encoder. Patch embedding (conv with kernel =
/// stride = patch, as DINOv2's patch_embed.proj), LayerNorm, exact GELU, mean pooling over the
/// tokens and a linear density head. Names follow the ViT checkpoint keys.
/// Shapes: images [B, 1, S, S] -> tokens [B, P, E] -> pooled [B, E] -> logits [B, 4].
/// </summary>
internal sealed class DensityNet : Module
{
    private readonly int _patch;

    public DensityNet(int patch, int embed, int classes, Random rng, Device device)
    {
        _patch = patch;
        double bound = 1.0 / Math.Sqrt(patch * patch);
        var proj = RegisterModule("patch_embed", new Holder()).RegisterModule("proj", new Holder());
        PatchWeight = proj.RegisterParameter("weight", Uniform([embed, 1, patch, patch], bound, rng, device));
        PatchBias = proj.RegisterParameter("bias", Uniform([embed], bound, rng, device), noWeightDecay: true);
        var norm = RegisterModule("norm", new Holder());
        NormWeight = norm.RegisterParameter("weight", Tensor.Ones([embed], device), noWeightDecay: true);
        NormBias = norm.RegisterParameter("bias", Tensor.Zeros([embed], DType.Float32, device), noWeightDecay: true);
        Head = RegisterModule("head", new Linear(embed, classes, rng, device: device));
    }

    public Parameter PatchWeight { get; }

    public Parameter PatchBias { get; }

    public Parameter NormWeight { get; }

    public Parameter NormBias { get; }

    public Linear Head { get; }

    /// <summary>images [B, 1, S, S] -> logits [B, classes].</summary>
    public Tensor Forward(Tensor images)
    {
        Tensor grid = Ops.PatchEmbed(images, PatchWeight, PatchBias, _patch);         // [B, E, S/p, S/p]
        int b = grid.Shape[0], e = grid.Shape[1];
        Tensor tokens = grid.Reshape(b, e, -1).Transpose(1, 2);                      // [B, P, E]
        Tensor h = Ops.Gelu(Ops.LayerNorm(tokens, NormWeight, NormBias, 1e-6f));     // [B, P, E]
        return Head.Forward(Ops.Mean(h, [1]));                                       // [B, classes]
    }

    /// <summary>A module that only holds parameters (gives them their checkpoint prefix).</summary>
    private sealed class Holder : Module
    {
    }

    private static Tensor Uniform(int[] shape, double bound, Random rng, Device device)
    {
        var values = new float[Shape.Numel(shape)];
        for (int i = 0; i < values.Length; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        return Tensor.FromArray(values, shape, device);
    }
}
