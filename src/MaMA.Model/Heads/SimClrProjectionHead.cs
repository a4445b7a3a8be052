using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Heads;

/// <summary>
/// The SimCLR projection head g of the inter-view loss (SPEC section 5; published
/// <c>SimCLRProjectionHead(768, 768, E)</c>, two layers with batch norm): Linear(in, hidden, no
/// bias), BatchNorm1d(hidden), ReLU, Linear(hidden, out, no bias), BatchNorm1d(out) (affine). Keys
/// <c>layers.0.weight</c>, <c>layers.1.*</c>, <c>layers.3.weight</c>, <c>layers.4.*</c> (the ReLU
/// is <c>layers.2</c>). The linears have no bias because a batch norm follows each.
/// </summary>
public sealed class SimClrProjectionHead : Module
{
    public SimClrProjectionHead(int inputDim, int hiddenDim, int outputDim, Random rng, Device? device = null)
    {
        InputDim = inputDim;
        Linear1 = new Linear(inputDim, hiddenDim, rng, bias: false, device: device);
        Norm1 = new BatchNorm1d(hiddenDim, device: device);
        Linear2 = new Linear(hiddenDim, outputDim, rng, bias: false, device: device);
        Norm2 = new BatchNorm1d(outputDim, device: device);
        RegisterModule("layers", new SequentialLayers((0, Linear1), (1, Norm1), (3, Linear2), (4, Norm2)));
    }

    public int InputDim { get; }

    public Linear Linear1 { get; }

    public BatchNorm1d Norm1 { get; }

    public Linear Linear2 { get; }

    public BatchNorm1d Norm2 { get; }

    /// <summary>x [N, in] (pooled image features) -> [N, out]; one BatchNorm batch of N.</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 2 || x.Shape[1] != InputDim)
            throw new ArgumentException($"SimClrProjectionHead: input must be [N, {InputDim}], got {Shape.Format(x.Shape)}.", nameof(x));
        return Norm2.Forward(Linear2.Forward(Ops.Relu(Norm1.Forward(Linear1.Forward(x)))));
    }
}
