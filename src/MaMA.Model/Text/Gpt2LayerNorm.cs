using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// torch.nn.LayerNorm(C, eps) as GPT-2 uses it (ln_1, ln_2, ln_f): keys <c>weight</c> (ones) and
/// <c>bias</c> (zeros), both without weight decay.
/// </summary>
public sealed class Gpt2LayerNorm : Module
{
    public Gpt2LayerNorm(int channels, float eps, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        Eps = eps;
        Weight = RegisterParameter("weight", Tensor.Ones([channels], device), noWeightDecay: true);
        Bias = RegisterParameter("bias", Tensor.Zeros([channels], DType.Float32, device), noWeightDecay: true);
    }

    public float Eps { get; }

    /// <summary>[C].</summary>
    public Parameter Weight { get; }

    /// <summary>[C].</summary>
    public Parameter Bias { get; }

    /// <summary>x [..., C] -> [..., C].</summary>
    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, Weight, Bias, Eps);
}
