using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Model.Text;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.Text;

/// <summary>
/// The GPT-2 block with its fused epilogues (c_attn's heads split in one pass, with its bias when
/// c_attn is a plain Conv1D; each c_proj's bias and the residual add in one pass, c_fc's bias in the
/// GELU pass, ln_1 and ln_2 writing bf16 under autocast) against the block computed op by op, as HF
/// writes it: h = x + attn(ln_1(x)), y = h + c_proj(gelu(c_fc(ln_2(h)))), attention on strided
/// q, k, v views of c_attn's output.
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
            Tensor h = Ops.Add(x, AttentionOpByOp(block.Attn, block.Ln1.Forward(x), mask));
            var cFc = (Conv1D)block.Mlp.CFc;
            var cProj = (Conv1D)block.Mlp.CProj;
            return Ops.Add(h, cProj.Forward(Ops.Gelu(cFc.Forward(block.Ln2.Forward(h)), block.Mlp.Form)));
        }, "attn.c_proj.bias", "mlp.c_proj.bias", "ln_1.weight");
    }

    /// <summary>
    /// HF's GPT2Attention: c_attn (bias included), q, k, v split off [B, T, 3C] and viewed as heads
    /// (strided views, which attention copies or, under autocast, rounds), attention with its heads
    /// joined by the op, c_proj.
    /// </summary>
    private static Tensor AttentionOpByOp(Gpt2Attention attn, Tensor x, Tensor mask)
    {
        int b = x.Shape[0], t = x.Shape[1], h = attn.Heads, d = attn.HeadDim;
        Tensor heads = Ops.Permute(Gpt2Projection.Forward(attn.CAttn, x).Reshape(b, t, 3 * h, d), 0, 2, 1, 3);
        Tensor q = Ops.Narrow(heads, 1, 0, h), k = Ops.Narrow(heads, 1, h, h), v = Ops.Narrow(heads, 1, 2 * h, h);
        return Gpt2Projection.Forward(attn.CProj, Ops.Attention(q, k, v, mask, causal: true, attn.Scale, joinHeads: true));
    }
}
