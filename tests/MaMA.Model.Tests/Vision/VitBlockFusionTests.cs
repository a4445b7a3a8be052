using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Model.Vision;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.Vision;

/// <summary>
/// The ViT block with its fused epilogues (fc1's bias in the GELU pass, each branch's last bias,
/// LayerScale and residual add in one pass) against the same block computed op by op:
/// x + ls1(attn(norm1(x))), then + ls2(fc2(gelu(fc1(norm2(x))))). Output and every gradient are
/// equal bit for bit on the fast CPU backend and the ILGPU simulator, in fp32 and under bf16 autocast.
/// </summary>
[TestFixture]
public sealed class VitBlockFusionTests
{
    [TestCase("cpu", false)]
    [TestCase("cpu", true)]
    [TestCase("ilgpu-cpu", false)]
    [TestCase("ilgpu-cpu", true)]
    public void FusedBlockEqualsTheBlockOpByOp(string deviceName, bool autocast)
    {
        Device device = Device.Parse(deviceName);
        var block = new VitBlock(VisionConfig.Tiny, new Random(3), device);
        Randomize(block, 11);
        float[] input = Normal(new Random(5), 2 * 10 * 32);

        (float[] output, float[] inputGrad, Dictionary<string, float[]> grads) Run(Func<Tensor, Tensor> forward)
        {
            block.ZeroGrad();
            using Tensor leaf = Tensor.FromArray(input, [2, 10, 32], device);
            leaf.RequiresGrad = true;
            using Tensor weights = Tensor.FromArray(Normal(new Random(9), 2 * 10 * 32), [2, 10, 32], device);
            Tensor y;
            using (autocast ? Autocast.Bf16() : null)
            {
                y = forward(Ops.Scale(leaf, 1f));
                Ops.Sum(Ops.Mul(y, weights)).Backward();
            }
            return (y.ToArray<float>(), leaf.Grad!.ToArray<float>(),
                block.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToArray<float>()));
        }

        var fused = Run(block.Forward);
        var plain = Run(x =>
        {
            x = Ops.Add(x, block.Ls1.Forward(block.Attn.Forward(block.Norm1.Forward(x))));
            VitMlp mlp = block.Mlp;
            Tensor h = mlp.Fc2.Forward(Ops.Gelu(mlp.Fc1.Forward(block.Norm2.Forward(x)), GeluForm.Erf));
            return Ops.Add(x, block.Ls2.Forward(h));
        });

        Assert.That(fused.output, Is.EqualTo(plain.output), "block output");
        Assert.That(fused.inputGrad, Is.EqualTo(plain.inputGrad), "input gradient");
        Assert.That(fused.grads.Keys, Is.EquivalentTo(plain.grads.Keys));
        Assert.That(fused.grads.Keys, Has.Member("ls1.gamma").And.Member("mlp.fc1.bias").And.Member("attn.proj.bias"));
        foreach (string name in plain.grads.Keys)
            Assert.That(fused.grads[name], Is.EqualTo(plain.grads[name]), $"gradient of {name}");
    }
}
