using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Nn;

/// <summary>
/// torch.nn.LayerNorm(C, eps) over the last axis: keys <c>weight</c> [C] (ones) and <c>bias</c> [C]
/// (zeros), both without weight decay. DINOv2 uses eps 1e-6 (norm1, norm2, norm), GPT-2 1e-5
/// (ln_1, ln_2, ln_f).
/// </summary>
public sealed class LayerNorm : Module
{
    public LayerNorm(int channels, float eps, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        Eps = eps;
        Weight = RegisterParameter("weight", Tensor.Ones([channels], device), noWeightDecay: true);
        Bias = RegisterParameter("bias", Tensor.Zeros([channels], DType.Float32, device), noWeightDecay: true);
    }

    public float Eps { get; }

    /// <summary>Gain [C].</summary>
    public Parameter Weight { get; }

    /// <summary>Shift [C].</summary>
    public Parameter Bias { get; }

    /// <summary>x [..., C] -> [..., C].</summary>
    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, Weight, Bias, Eps);

    /// <summary>
    /// x [..., C] -> [..., C] for a norm whose output only feeds matrix products (a pre-norm block's
    /// norm before qkv or fc1): bf16 inside an autocast scope, written by the norm's own pass
    /// (<see cref="Ops.LayerNorm"/>, <c>forProduct</c>); the same values the product would read.
    /// </summary>
    public Tensor ForwardForProduct(Tensor x) => Ops.LayerNorm(x, Weight, Bias, Eps, forProduct: true);
}
