using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.TensorCore;
using FlashKernels = MaMA.Kernels.Attention.FlashAttention;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Whether the attention backward of bf16-saved q, k, v may run on the tensor-core kernel
    /// (<see cref="TensorCoreAttentionBackward"/>). On by default; tests switch it off to compare with
    /// the fp32 kernels (process-wide, like <see cref="AttentionBackward"/>).
    /// </summary>
    public static bool AttentionBackwardTensorCores { get; set; } = true;

    /// <summary>
    /// Whether an attention node's backward runs on the tensor cores: the switch is on, q, k, v were
    /// saved in bf16 (autocast, or bf16 inputs), and the device and head size take the tensor-core
    /// forward (<see cref="UsesTensorCoreAttention"/>: CUDA or the ILGPU CPU simulator, D 64 / 128).
    /// fp32-saved inputs (including the fp32 opt-in of <see cref="TensorCoreMath.AllowBf16"/>) keep the fp32 kernels.
    /// </summary>
    internal static bool UsesTensorCoreAttentionBackward(Tensor q, Tensor k, Tensor v) =>
        AttentionBackwardTensorCores && q.DType == DType.BFloat16 && k.DType == DType.BFloat16 && v.DType == DType.BFloat16 && q.Rank == 4
        && !q.Device.IsCpu && UsesTensorCoreAttention(q.Device, q.DType, k.DType, v.DType, q.Size(3))
        && TensorCoreAttentionBackward.Fits(((IlgpuDevice)q.Device).Accelerator, q.Size(3));

    /// <summary>
    /// dq (fp32), dk and dv (bf16, the kernel rounds in its store: the gradients of bf16 k and v)
    /// [B, H, T, D] from bf16 q, k, v, the forward's output o and lse, and the
    /// output gradient: delta = rowsum(dO * O) in fp32, dO rounded to bf16, then the tensor-core
    /// FlashAttention-2 backward. o is fp32 [B, H, T, D] (delta by FlashAttention.AttentionRowDot on
    /// fp32 dO), or, when <paramref name="joinHeads"/>, bf16 [B, T, H D] with dO in the same layout:
    /// dO is rounded to bf16 where it lies (nothing when it already is), delta is read from the bf16
    /// pair (AttentionRowDotJoinedBf16) and the kernel loads dO's tiles from the joined rows.
    /// <paramref name="keep"/>: the fp32 [B, T] mask or null; <paramref name="dropout"/>: the forward's mask on the probabilities (off: none).
    /// </summary>
    internal static (Tensor Dq, Tensor Dk, Tensor Dv) TensorCoreAttentionBackwardPass(Tensor q, Tensor k, Tensor v, Tensor? keep, Tensor o,
        Tensor lse, Tensor gradOutput, bool causal, float scale, bool joinHeads = false, MaMA.Kernels.Random.DropoutMask dropout = default)
    {
        int batch = q.Size(0), heads = q.Size(1), t = q.Size(2), d = q.Size(3);
        Tensor dq = Tensor.Empty(q.Shape, DType.Float32, q.Device);
        Tensor dk = Tensor.Empty(q.Shape, DType.BFloat16, q.Device);
        Tensor dv = Tensor.Empty(q.Shape, DType.BFloat16, q.Device);
        int rows = batch * heads * t;
        if (rows == 0) return (dq, dk, dv);
        using var scope = new TempScope();
        using (GradMode.NoGrad())
        {
            Tensor delta = scope.Own(Tensor.Empty([batch, heads, t], DType.Float32, q.Device));
            // Operands first (their casts are ops of their own), then the two launches as one profiled site.
            Tensor g16, rowDotG, rowDotO;
            if (joinHeads)
            {
                g16 = rowDotG = Bf16Aligned(gradOutput, scope);
                rowDotO = Bf16Aligned(o, scope);
            }
            else
            {
                rowDotG = scope.F32(gradOutput);
                rowDotO = o;
                g16 = Bf16Aligned(rowDotG, scope);
            }
            Tensor q16 = Bf16Aligned(q, scope), k16 = Bf16Aligned(k, scope), v16 = Bf16Aligned(v, scope);
            Dispatch.Accelerated(q.Device, s =>
            {
                if (joinHeads)
                    FlashKernels.AttentionRowDotJoinedBf16.Launch(s, rows, rowDotG.View<ushort>(), rowDotO.View<ushort>(), delta.View<float>(), d, heads, t);
                else
                    FlashKernels.AttentionRowDot.Launch(s, rows, rowDotG.View<float>(), rowDotO.View<float>(), delta.View<float>(), d);
                TensorCoreAttentionBackward.Launch(s, q16.View<ushort>(), k16.View<ushort>(), v16.View<ushort>(), g16.View<ushort>(),
                    lse.View<float>(), delta.View<float>(), keep is null ? default : keep.View<float>(),
                    dq.View<float>(), dk.View<ushort>(), dv.View<ushort>(), batch, heads, t, d, causal, scale, gJoined: joinHeads,
                    dropout: dropout);
            });
        }
        return (dq, dk, dv);
    }
}
