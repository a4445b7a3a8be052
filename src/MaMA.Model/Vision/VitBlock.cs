using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// One pre-norm transformer block of DINOv2 with LayerScale on both residual branches:
/// x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x))). Keys (registration order as in
/// PyTorch): norm1.*, attn.qkv.*, attn.proj.*, ls1.gamma, norm2.*, mlp.fc1.*, mlp.fc2.*, ls2.gamma.
/// Drop path is 0 in MaMA, so there is none.
/// </summary>
public sealed class VitBlock : Module
{
    public VitBlock(VisionConfig config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.EmbedDim;
        Norm1 = RegisterModule("norm1", new LayerNorm(c, config.LayerNormEps, device));
        Attn = RegisterModule("attn", new VitAttention(c, config.NumHeads, rng, device));
        Ls1 = RegisterModule("ls1", new LayerScale(c, config.LayerScaleInit, device));
        Norm2 = RegisterModule("norm2", new LayerNorm(c, config.LayerNormEps, device));
        Mlp = RegisterModule("mlp", new VitMlp(c, config.MlpHiddenDim, rng, device));
        Ls2 = RegisterModule("ls2", new LayerScale(c, config.LayerScaleInit, device));
    }

    public LayerNorm Norm1 { get; }

    public VitAttention Attn { get; }

    public LayerScale Ls1 { get; }

    public LayerNorm Norm2 { get; }

    public VitMlp Mlp { get; }

    public LayerScale Ls2 { get; }

    /// <summary>
    /// x [B, T, C] -> [B, T, C]. Each branch's last bias add, its LayerScale and the residual add
    /// run as one pass (<see cref="Ops.ScaledResidual"/>), and under bf16 autocast the norms write
    /// the bf16 values qkv and fc1 read; the values are those of x + ls(branch(norm(x))) computed
    /// op by op.
    /// </summary>
    public Tensor Forward(Tensor x)
    {
        x = Attn.ForwardResidual(Norm1.ForwardForProduct(x), x, Ls1.Gamma);
        return Mlp.ForwardResidual(Norm2.ForwardForProduct(x), x, Ls2.Gamma);
    }
}
