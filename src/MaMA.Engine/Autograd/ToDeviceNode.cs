using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>Gradient of a device copy: copy the gradient back to the source device.</summary>
internal sealed class ToDeviceNode(Tensor x) : Node(x)
{
    public override string Name => "to_device";

    public override Tensor?[] Backward(Tensor gradOutput) => [gradOutput.To(Edges[0].Device)];
}
