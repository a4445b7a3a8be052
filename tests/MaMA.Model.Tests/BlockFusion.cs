using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests;

/// <summary>
/// Runs a transformer block's fused forward and its op-by-op twin the same way and asserts they
/// agree bit for bit: input [shape] (a graph activation), loss sum(out * w), inside a bf16 autocast
/// scope when asked; output, input gradient and every parameter gradient compared.
/// </summary>
internal static class BlockFusion
{
    public static void AssertBitEqual(Module block, Device device, int[] shape, bool autocast, Func<Tensor, Tensor> fused, Func<Tensor, Tensor> opByOp,
        params string[] mustHaveGradients)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        float[] input = Normal(new Random(5), n), weights = Normal(new Random(9), n);

        (float[] Output, float[] InputGrad, Dictionary<string, float[]> Grads) Run(Func<Tensor, Tensor> forward)
        {
            block.ZeroGrad();
            using Tensor leaf = Tensor.FromArray(input, shape, device);
            leaf.RequiresGrad = true;
            using Tensor w = Tensor.FromArray(weights, shape, device);
            Tensor y;
            using (autocast ? Autocast.Bf16() : null)
            {
                y = forward(Ops.Scale(leaf, 1f));
                Ops.Sum(Ops.Mul(y, w)).Backward();
            }
            return (y.ToArray<float>(), leaf.Grad!.ToArray<float>(),
                block.NamedParameters().Where(p => p.Parameter.Grad is not null).ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToArray<float>()));
        }

        var a = Run(fused);
        var b = Run(opByOp);
        Assert.That(a.Output, Is.EqualTo(b.Output), "block output");
        Assert.That(a.InputGrad, Is.EqualTo(b.InputGrad), "input gradient");
        Assert.That(a.Grads.Keys, Is.EquivalentTo(b.Grads.Keys));
        foreach (string name in mustHaveGradients) Assert.That(a.Grads.Keys, Has.Member(name));
        foreach (string name in b.Grads.Keys)
            Assert.That(a.Grads[name], Is.EqualTo(b.Grads[name]), $"gradient of {name}");
    }
}
