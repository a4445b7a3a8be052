using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Model.Vision;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.Vision;

/// <summary>
/// The ViT block with its fused epilogues (qkv's bias in the head-split pass, attention writing its
/// heads joined, fc1's bias in the GELU pass, each branch's last bias, LayerScale and residual add in
/// one pass) against the same block computed op by op: x + ls1(attn(norm1(x))), then
/// + ls2(fc2(gelu(fc1(norm2(x))))). Output and every gradient are equal bit for bit on the fast CPU
/// backend and the ILGPU simulator, in fp32 and under bf16 autocast. Under autocast the op-by-op
/// twin's attention joins its heads too: there the joined bf16 output changes the attention
/// backward's rowsum(dO * O) in the last bits, which AttentionJoinHeadsTests bounds.
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
        BlockFusion.AssertBitEqual(block, device, [2, 10, 32], autocast, block.Forward, x =>
        {
            x = Ops.Add(x, block.Ls1.Forward(AttentionOpByOp(block.Attn, block.Norm1.Forward(x), joinHeads: autocast)));
            VitMlp mlp = block.Mlp;
            Tensor h = mlp.Fc2.Forward(Ops.Gelu(mlp.Fc1.Forward(block.Norm2.Forward(x)), GeluForm.Erf));
            return Ops.Add(x, block.Ls2.Forward(h));
        }, "ls1.gamma", "mlp.fc1.bias", "attn.proj.bias", "attn.qkv.bias");
    }

    /// <summary>
    /// DINOv2's attention as PyTorch writes it: qkv with its bias, strided q, k, v views of the
    /// permuted result, attention, its heads joined by a permuted copy (or by the op, when
    /// <paramref name="joinHeads"/>), proj.
    /// </summary>
    private static Tensor AttentionOpByOp(VitAttention attn, Tensor x, bool joinHeads)
    {
        int b = x.Shape[0], t = x.Shape[1], c = x.Shape[2], h = attn.NumHeads, d = attn.HeadDim;
        Tensor qkv = attn.Qkv.Forward(x).Reshape(b, t, 3, h, d).Permute(2, 0, 3, 1, 4);
        Tensor q = qkv.Narrow(0, 0, 1).Reshape(b, h, t, d), k = qkv.Narrow(0, 1, 1).Reshape(b, h, t, d), v = qkv.Narrow(0, 2, 1).Reshape(b, h, t, d);
        Tensor joined = joinHeads
            ? Ops.Attention(q, k, v, keyPaddingMask: null, causal: false, attn.Scale, joinHeads: true)
            : Ops.Attention(q, k, v, keyPaddingMask: null, causal: false, attn.Scale).Transpose(1, 2).Reshape(b, t, c);
        return attn.Proj.Forward(joined);
    }
}
