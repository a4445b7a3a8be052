using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// torch.nn.LayerNorm(C, eps) over the last axis: keys <c>weight</c> [C] (ones) and <c>bias</c> [C]
/// (zeros), both without weight decay. DINOv2 uses eps 1e-6 everywhere (norm1, norm2, norm).
/// </summary>
public sealed class VitLayerNorm : Module
{
    public VitLayerNorm(int dim, float eps, Device? device = null)
    {
        Eps = eps;
        Weight = RegisterParameter("weight", Tensor.Ones([dim], device), noWeightDecay: true);
        Bias = RegisterParameter("bias", Tensor.Zeros([dim], device: device), noWeightDecay: true);
    }

    public float Eps { get; }

    /// <summary>Gain [C].</summary>
    public Parameter Weight { get; }

    /// <summary>Shift [C].</summary>
    public Parameter Bias { get; }

    /// <summary>x [..., C] -> [..., C].</summary>
    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, Weight, Bias, Eps);
}
