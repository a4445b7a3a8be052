using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// LayerScale (CaiT, DINOv2 ls1 / ls2): a learned per-channel gain on a residual branch,
/// y = gamma * x with key <c>gamma</c> [C] initialised to <c>init</c> (DINOv2 class default 1e-5;
/// checkpoints overwrite it). No weight decay.
/// </summary>
public sealed class LayerScale : Module
{
    public LayerScale(int dim, float init, Device? device = null)
    {
        Gamma = RegisterParameter("gamma", Tensor.Full([dim], init, device), noWeightDecay: true);
    }

    /// <summary>[C].</summary>
    public Parameter Gamma { get; }

    /// <summary>x [..., C] -> [..., C].</summary>
    public Tensor Forward(Tensor x) => Ops.Mul(x, Gamma);
}
