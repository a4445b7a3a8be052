using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// The block's feed-forward network (DINOv2 Mlp): fc2(GELU_erf(fc1(x))), fc1 [hidden, C] and
/// fc2 [C, hidden] with biases. Dropout is 0 in DINOv2 and MaMA, so there is none.
/// </summary>
public sealed class VitMlp : Module
{
    public VitMlp(int dim, int hidden, Random rng, Device? device = null)
    {
        Fc1 = RegisterModule("fc1", VitInit.Linear(dim, hidden, rng, device));
        Fc2 = RegisterModule("fc2", VitInit.Linear(hidden, dim, rng, device));
    }

    public Linear Fc1 { get; }

    public Linear Fc2 { get; }

    /// <summary>x [B, T, C] -> [B, T, C] (through [B, T, hidden]); fc1's bias is added inside the GELU pass.</summary>
    public Tensor Forward(Tensor x) => Fc2.Forward(Fc1.ForwardGelu(x, GeluForm.Erf));

    /// <summary>The block's update residual + gamma mlp(x) [B, T, C], fc2's bias, the LayerScale gamma [C] and the residual add in one pass.</summary>
    public Tensor ForwardResidual(Tensor x, Tensor residual, Tensor gamma) => Fc2.ForwardScaledResidual(Fc1.ForwardGelu(x, GeluForm.Erf), residual, gamma);
}
