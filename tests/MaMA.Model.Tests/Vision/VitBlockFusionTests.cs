using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Model.Vision;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.Vision;

/// <summary>
/// The ViT block with its fused epilogues (qkv's bias in the head-split pass, fc1's bias in the GELU
/// pass, each branch's last bias, LayerScale and residual add in one pass) against the same block
/// computed op by op: x + ls1(attn(norm1(x))), then + ls2(fc2(gelu(fc1(norm2(x))))). Output and every gradient are
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
            x = Ops.Add(x, block.Ls1.Forward(AttentionOpByOp(block.Attn, block.Norm1.Forward(x))));
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

    /// <summary>DINOv2's attention as PyTorch writes it: qkv with its bias, strided q, k, v views of the permuted result, attention, proj.</summary>
    private static Tensor AttentionOpByOp(VitAttention attn, Tensor x)
    {
        int b = x.Shape[0], t = x.Shape[1], c = x.Shape[2], h = attn.NumHeads, d = attn.HeadDim;
        Tensor qkv = attn.Qkv.Forward(x).Reshape(b, t, 3, h, d).Permute(2, 0, 3, 1, 4);
        Tensor q = qkv.Narrow(0, 0, 1).Reshape(b, h, t, d), k = qkv.Narrow(0, 1, 1).Reshape(b, h, t, d), v = qkv.Narrow(0, 2, 1).Reshape(b, h, t, d);
        Tensor o = Ops.Attention(q, k, v, keyPaddingMask: null, causal: false, attn.Scale);
        return attn.Proj.Forward(o.Transpose(1, 2).Reshape(b, t, c));
    }
}
