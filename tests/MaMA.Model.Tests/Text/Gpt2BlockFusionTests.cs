using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Model.Text;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.Text;

/// <summary>
/// The GPT-2 block with its fused epilogues (each c_proj's bias and the residual add in one pass,
/// c_fc's bias in the GELU pass, ln_1 and ln_2 writing bf16 under autocast) against the block
/// computed op by op, as HF writes it: h = x + attn(ln_1(x)), y = h + c_proj(gelu(c_fc(ln_2(h)))).
/// Output and every gradient are equal bit for bit on the fast CPU backend and the ILGPU simulator,
/// in fp32 and under bf16 autocast, with LoRA on c_attn (dropout off: eval mode) and without.
/// </summary>
[TestFixture]
public sealed class Gpt2BlockFusionTests
{
    [TestCase("cpu", false, true)]
    [TestCase("cpu", true, true)]
    [TestCase("cpu", true, false)]
    [TestCase("ilgpu-cpu", false, false)]
    [TestCase("ilgpu-cpu", true, true)]
    public void FusedBlockEqualsTheBlockOpByOp(string deviceName, bool autocast, bool lora)
    {
        Device device = Device.Parse(deviceName);
        Gpt2Config config = TextTestData.Small(lora);
        var block = new Gpt2Block(config, layerIndex: 1, new Random(3), device);
        Randomize(block, 12);
        block.Eval();
        int b = 3, t = TextTestData.T, c = config.NEmbd;
        float[] input = Normal(new Random(5), b * t * c);
        using Tensor mask = Tensor.FromArray(TextTestData.Lengths.SelectMany(n => Enumerable.Range(0, t).Select(j => j < n ? 1f : 0f)).ToArray(), [b, t], device);

        (float[] output, float[] inputGrad, Dictionary<string, float[]> grads) Run(Func<Tensor, Tensor> forward)
        {
            block.ZeroGrad();
            using Tensor leaf = Tensor.FromArray(input, [b, t, c], device);
            leaf.RequiresGrad = true;
            using Tensor weights = Tensor.FromArray(Normal(new Random(9), b * t * c), [b, t, c], device);
            Tensor y;
            using (autocast ? Autocast.Bf16() : null)
            {
                y = forward(Ops.Scale(leaf, 1f));
                Ops.Sum(Ops.Mul(y, weights)).Backward();
            }
            return (y.ToArray<float>(), leaf.Grad!.ToArray<float>(),
                block.NamedParameters().Where(p => p.Parameter.Grad is not null).ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToArray<float>()));
        }

        var fused = Run(x => block.Forward(x, mask));
        var plain = Run(x =>
        {
            Tensor h = Ops.Add(x, block.Attn.Forward(block.Ln1.Forward(x), mask));
            var cFc = (Conv1D)block.Mlp.CFc;
            var cProj = (Conv1D)block.Mlp.CProj;
            return Ops.Add(h, cProj.Forward(Ops.Gelu(cFc.Forward(block.Ln2.Forward(h)), block.Mlp.Form)));
        });

        Assert.That(fused.output, Is.EqualTo(plain.output), "block output");
        Assert.That(fused.inputGrad, Is.EqualTo(plain.inputGrad), "input gradient");
        Assert.That(fused.grads.Keys, Is.EquivalentTo(plain.grads.Keys));
        Assert.That(fused.grads.Keys, Has.Member("attn.c_proj.bias").And.Member("mlp.c_proj.bias").And.Member("ln_1.weight"));
        foreach (string name in plain.grads.Keys)
            Assert.That(fused.grads[name], Is.EqualTo(plain.grads[name]), $"gradient of {name}");
    }
}
