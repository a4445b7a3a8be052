using MaMA.Engine;
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
        using Tensor mask = Tensor.FromArray(TextTestData.Lengths.SelectMany(n => Enumerable.Range(0, t).Select(j => j < n ? 1f : 0f)).ToArray(), [b, t], device);

        BlockFusion.AssertBitEqual(block, device, [b, t, c], autocast, x => block.Forward(x, mask), x =>
        {
            Tensor h = Ops.Add(x, block.Attn.Forward(block.Ln1.Forward(x), mask));
            var cFc = (Conv1D)block.Mlp.CFc;
            var cProj = (Conv1D)block.Mlp.CProj;
            return Ops.Add(h, cProj.Forward(Ops.Gelu(cFc.Forward(block.Ln2.Forward(h)), block.Mlp.Form)));
        }, "attn.c_proj.bias", "mlp.c_proj.bias", "ln_1.weight");
    }
}
