using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using ILGPU;
using MaMA.Kernels.TensorCore;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Whether the attention forward runs on the tensor-core flash kernel (<see cref="TensorCoreAttention"/>):
    /// CUDA or the ILGPU CPU simulator, D = 64 or 128 with its shared memory within the card's opt-in
    /// limit (<see cref="TensorCoreAttention.Fits"/>), and q, k, v bf16 (what autocast hands
    /// <see cref="Attention"/>), or floating inside <see cref="TensorCoreMath.AllowBf16"/>. Everything
    /// else keeps the fp32 flash kernel. The backward of bf16-saved q, k, v runs on the tensor cores too
    /// (<see cref="TensorCoreAttentionBackwardPass"/>, unless <see cref="AttentionBackwardTensorCores"/> is off);
    /// fp32-saved ones (the <see cref="TensorCoreMath.AllowBf16"/> opt-in) keep the fp32 kernels.
    /// </summary>
    internal static bool UsesTensorCoreAttention(Device device, DType q, DType k, DType v, int headDim) =>
        TensorCoreAttention.Supports(headDim) && UsesTensorCores(device, q, k) && UsesTensorCores(device, v, v)
        && TensorCoreAttention.Fits(((IlgpuDevice)device).Accelerator, headDim);

    /// <summary>
    /// o and lse [B, H, T] (fp32, contiguous) from q, k, v in bf16 (fp32 operands are rounded into
    /// fresh bf16 copies, not recorded: the backward takes the fp32 tensors). o is contiguous fp32 or
    /// bf16 (the kernel rounds in its store), [B, H, T, D] or, when <paramref name="joinHeads"/>,
    /// [B, T, H D]. Inputs are made contiguous and 16-byte aligned for cp.async.
    /// <paramref name="keep"/> is the fp32 [B, T] mask or null; <paramref name="dropout"/> the probabilities' mask (off: none).
    /// </summary>
    private static void TensorCoreAttentionForward(Tensor q, Tensor k, Tensor v, Tensor? keep, Tensor o, Tensor lse,
        int batch, int heads, int t, int d, bool causal, float scale, bool joinHeads, MaMA.Kernels.Random.DropoutMask dropout)
    {
        using var scope = new TempScope();
        using (GradMode.NoGrad())
        {
            Tensor q16 = Bf16Aligned(q, scope), k16 = Bf16Aligned(k, scope), v16 = Bf16Aligned(v, scope);
            var s = ((IlgpuDevice)o.Device).Stream;
            ArrayView<float> mask = keep is null ? default : keep.View<float>();
            if (o.DType == DType.BFloat16)
                TensorCoreAttention.Launch(s, q16.View<ushort>(), k16.View<ushort>(), v16.View<ushort>(), mask, o.View<ushort>(), lse.View<float>(),
                    batch, heads, t, d, causal, scale, joinHeads, dropout);
            else
                TensorCoreAttention.Launch(s, q16.View<ushort>(), k16.View<ushort>(), v16.View<ushort>(), mask, o.View<float>(), lse.View<float>(),
                    batch, heads, t, d, causal, scale, joinHeads, dropout);
        }
    }

    /// <summary>x as contiguous bf16 whose first element sits on a 16-byte boundary (the allocation's own alignment when its offset is a multiple of 8).</summary>
    private static Tensor Bf16Aligned(Tensor x, TempScope scope)
    {
        Tensor c = Bf16Contiguous(x, scope);
        if (c.Offset % 8 == 0) return c;
        Tensor y = scope.Own(Tensor.Empty(c.Shape, DType.BFloat16, c.Device));
        CopyStrided(c, y);
        return y;
    }
}
