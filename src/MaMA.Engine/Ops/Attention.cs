using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using FlashKernels = MaMA.Kernels.Attention.FlashAttention;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Scaled dot-product attention, flash style: out[b, h, i] = sum_j softmax_j(scale q_i . k_j) v_j
    /// over the keys j visible to query i: <c>keyPaddingMask[b, j] != 0</c> (1 keep, 0 pad; fp32, any
    /// floating, int or bool; null keeps all) and, when <paramref name="causal"/>, j &lt;= i.
    /// <para>
    /// q, k, v are [B, H, T, D] in fp32 or bf16/fp16 storage (all three 16-bit, or fp32); products
    /// accumulate in fp32 (tensor cores read 16-bit operands as they are, the other paths widen
    /// them) and the output is fp32. A 16-bit input gets a gradient of its own dtype. <paramref name="scale"/> is the full multiplier on q . k (ViT 1/sqrt(D);
    /// GPT-2 1/sqrt(D)/(layer + 1)).
    /// </para>
    /// <para>
    /// A query row that sees no key (all keys padded, or causal with every earlier key padded) gets
    /// an output of 0 and zero gradients; PyTorch's scaled_dot_product_attention gives NaN there.
    /// </para>
    /// <para>
    /// <paramref name="joinHeads"/>: the output is [B, T, H D], the heads joined as the output
    /// projection reads them, in q's dtype when q, k, v are all 16-bit (bf16 under autocast: the
    /// projection's operand, as PyTorch's SDPA returns it), else fp32. The CPU and tensor-core kernels
    /// write it in place, which saves the permuted copy after the op (and under autocast the cast
    /// before the projection); the backward reads its gradient where it lies. The values are those of
    /// <c>Attention(...).Transpose(1, 2).Reshape(B, T, H D)</c> (rounded to the 16-bit dtype); the
    /// gradients match it where O is fp32, and where O is bf16 the backward's rowsum(dO * O) reads the
    /// bf16 O, as FlashAttention's does.
    /// </para>
    /// <para>
    /// <paramref name="dropout"/> (training only; <see cref="AttentionDropout.None"/> by default): the
    /// probabilities are dropped inside the kernels by <see cref="Ops.Dropout"/>'s mask over them as
    /// [B, H, T, T] (<see cref="AttentionDropout"/>), so the result equals softmax, dropout, times v
    /// op by op, and the backward regenerates the mask. lse stays that of the undropped softmax.
    /// </para>
    /// Memory: the backward keeps q, k, v in their own dtype, the output and the per-row log-sum-exp
    /// [B, H, T], and recomputes probabilities from them. The flash and tensor-core kernels never
    /// allocate a T x T matrix; the GEMM forms (CUDA with cuBLAS: <see cref="AttentionForward"/>,
    /// <see cref="AttentionBackward"/>) hold one for a chunk of heads at a time.
    /// </summary>
    public static unsafe Tensor Attention(Tensor q, Tensor k, Tensor v, Tensor? keyPaddingMask, bool causal, float scale, bool joinHeads = false,
        AttentionDropout dropout = default)
    {
        if (Autocast.Lowers(q, k, v))
        {
            Tensor lq = Autocast.Lower(q), lk = Autocast.Lower(k), lv = Autocast.Lower(v);
            return Autocast.OwnCopies(Attention(lq, lk, lv, keyPaddingMask, causal, scale, joinHeads, dropout), (lq, q), (lk, k), (lv, v));
        }
        const string name = "attention";
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        if (q.Rank != 4) throw new ArgumentException($"{name}: q must be [B, H, T, D], got {Shape.Format(q.Shape)}.", nameof(q));
        if (!Shape.SameShape(k.Shape, q.Shape)) throw new ArgumentException($"{name}: k has shape {Shape.Format(k.Shape)} but q has {Shape.Format(q.Shape)}.", nameof(k));
        if (!Shape.SameShape(v.Shape, q.Shape)) throw new ArgumentException($"{name}: v has shape {Shape.Format(v.Shape)} but q has {Shape.Format(q.Shape)}.", nameof(v));
        Dispatch.RequireFloat(name, q);
        Dispatch.RequireFloat(name, k);
        Dispatch.RequireFloat(name, v);
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), $"{name}: scale must be finite, got {scale}.");
        int batch = q.Size(0), heads = q.Size(1), t = q.Size(2), d = q.Size(3);
        if (d == 0) throw new ArgumentException($"{name}: head size D must be at least 1, got {Shape.Format(q.Shape)}.", nameof(q));
        if (keyPaddingMask is not null && (keyPaddingMask.Rank != 2 || keyPaddingMask.Size(0) != batch || keyPaddingMask.Size(1) != t))
            throw new ArgumentException($"{name}: keyPaddingMask must be [B, T] = [{batch}, {t}], got {Shape.Format(keyPaddingMask.Shape)}.", nameof(keyPaddingMask));
        if (keyPaddingMask is null) Dispatch.SameDevice(name, q, k, v);
        else Dispatch.SameDevice(name, q, k, v, keyPaddingMask);
        checked
        {
            _ = batch * heads * t * d;
        }
        dropout.Validate(name, (long)batch * heads * t * t);

        // fp32 inputs: recorded (no-op for contiguous inputs) copies, saved for the backward. 16-bit
        // inputs (bf16 under autocast): saved as they are, half the bytes; the fp32 operands of the
        // CPU and per-row forwards are temporaries, and the tensor cores read the 16-bit ones.
        bool sixteen = q.DType != DType.Float32 && k.DType == q.DType && v.DType == q.DType;
        // The tensor-core forward takes row maxima of the unscaled scores, so it needs scale > 0 (every MaMA attention's is).
        bool tensorCores = !q.Device.IsCpu && UsesTensorCoreAttention(q.Device, q.DType, k.DType, v.DType, d) && scale > 0f;
        using var temps = new TempScope();
        Tensor qs, ks, vs, qf, kf, vf;
        if (sixteen)
        {
            using (GradMode.NoGrad())
            {
                qs = Contiguous(q);
                ks = Contiguous(k);
                vs = Contiguous(v);
            }
            (qf, kf, vf) = tensorCores ? (qs, ks, vs) : (temps.F32(qs), temps.F32(ks), temps.F32(vs));
        }
        else
        {
            qs = qf = Contiguous(Cast(q, DType.Float32));
            ks = kf = Contiguous(Cast(k, DType.Float32));
            vs = vf = Contiguous(Cast(v, DType.Float32));
        }
        Tensor? keep = null;
        if (keyPaddingMask is not null)
            using (GradMode.NoGrad())
                keep = Contiguous(Cast(keyPaddingMask, DType.Float32));

        // The output: [B, H, T, D] fp32, or joined [B, T, H D] in q's dtype when all three are 16-bit.
        // The CPU kernel writes fp32 in either layout, the tensor cores either layout in fp32 or bf16;
        // other cases (a 16-bit joined output on the CPU, joined heads on the other ILGPU kernels)
        // stage fp32 [B, H, T, D] (CPU: joined) and turn it into the output in one pass at the end.
        DType outType = joinHeads && sixteen ? q.DType : DType.Float32;
        int[] outShape = joinHeads ? [batch, t, heads * d] : [batch, heads, t, d];
        bool cpu = q.Device.IsCpu;
        bool staged = joinHeads && (cpu ? outType != DType.Float32 : !tensorCores);
        Tensor target = staged
            ? temps.Own(Tensor.Empty(cpu ? outShape : q.Shape, DType.Float32, q.Device))
            : Tensor.Empty(outShape, outType, q.Device);
        bool writeJoined = joinHeads && (cpu || tensorCores);
        Tensor lse = Tensor.Empty([batch, heads, t], DType.Float32, q.Device);
        int rows = batch * heads * t;
        if (rows > 0)
            Dispatch.Run(q.Device,
                cpu: () => AttentionCpu.Forward(batch, heads, t, d, qf.Ptr<float>(), kf.Ptr<float>(), vf.Ptr<float>(),
                    keep is null ? null : keep.Ptr<float>(), causal, scale, target.Ptr<float>(), lse.Ptr<float>(), writeJoined, dropout.Cpu),
                ilgpu: s =>
                {
                    if (tensorCores)
                    {
                        // bf16 (or opted-in fp32) on CUDA / the simulator: TensorCorePath.Attention.cs. The backward of bf16 q, k, v too.
                        TensorCoreAttentionForward(q, k, v, keep, target, lse, batch, heads, t, d, causal, scale, writeJoined, dropout.Mask);
                        return;
                    }
                    Tensor o = target;
                    // Kernels always read a mask; the stream is in order, so the buffer may go back to the cache at once.
                    using Tensor? ones = keep is null ? Tensor.Ones([batch, t], q.Device) : null;
                    Tensor keepAll = keep ?? ones!;
                    if (AttentionForward.UsesGemm(s))
                    {
                        // Batched GEMMs over chunks of heads (cuBLAS on CUDA): AttentionGemmForward.cs.
                        AttentionGemmForward(s, q.Device, batch, heads, t, d, causal, scale, qf.View<float>(), kf.View<float>(), vf.View<float>(),
                            keepAll.View<float>(), o.View<float>(), lse.View<float>(), dropout.Mask);
                        return;
                    }
                    FlashKernels.AttentionForward.Launch(s, rows, qf.View<float>(), kf.View<float>(), vf.View<float>(), keepAll.View<float>(),
                        o.View<float>(), lse.View<float>(), new FlashKernels.FlashArgs(t, d, heads * t, causal, scale, dropout.Mask));
                });
        Tensor output = staged ? Joined(target, outType, cpu, outShape) : target;
        // Owned by the node: lse, and the mask and q, k, v copies the op made (contiguous or fp32 forms of views).
        Node node = new AttentionNode(sixteen ? [q, k, v] : [qf, kf, vf], qs, ks, vs, keep, output, lse, causal, scale, joinHeads, dropout)
            .Owning(lse, Node.IfCopy(keep, keyPaddingMask), Node.IfCopy(qs, q), Node.IfCopy(ks, k), Node.IfCopy(vs, v));
        return GradMode.RecordIfNeeded(output, node);
    }

    /// <summary>
    /// The joined output [B, T, H D] in <paramref name="dtype"/> from a staged fp32 result: the CPU's
    /// joined one (a cast), or [B, H, T, D] from the other ILGPU kernels (one permuted copy or cast).
    /// </summary>
    private static Tensor Joined(Tensor staged, DType dtype, bool joinedAlready, int[] shape)
    {
        using (GradMode.NoGrad())
        {
            Tensor src = joinedAlready ? staged : staged.Transpose(1, 2);
            Tensor y = dtype == DType.Float32 ? Contiguous(src) : Cast(src, dtype);
            if (joinedAlready) return y;
            Tensor joined = y.Reshape(shape); // a view with its own reference to y's storage
            y.Dispose();
            return joined;
        }
    }

    /// <summary>
    /// Backward from the saved output and log-sum-exp: D_i = rowsum(dO_i * O_i), then dQ per query
    /// row and dK, dV per key row, each probability recomputed as exp(scale q . k - L).
    /// Saved: q, k, v (contiguous, fp32 or 16-bit), the keep mask, o, lse and the dropout (its mask is regenerated). bf16 ones on CUDA / the
    /// simulator with D 64 / 128 go to the tensor-core backward (TensorCorePath.AttentionBackward.cs);
    /// other 16-bit ones are widened for the fp32 kernels. Gradients are rounded back to the input's dtype
    /// (the tensor-core backward writes dk and dv in bf16 itself).
    /// </summary>
    private sealed class AttentionNode(Tensor[] inputs, Tensor savedQ, Tensor savedK, Tensor savedV, Tensor? keep, Tensor o, Tensor lse, bool causal,
        float scale, bool joinHeads, AttentionDropout dropout) : Node(inputs)
    {
        public override string Name => "attention";

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            using var temps = new TempScope();
            // bf16-saved q, k, v on CUDA / the simulator: the tensor-core backward (TensorCorePath.AttentionBackward.cs).
            (Tensor dq, Tensor dk, Tensor dv) = UsesTensorCoreAttentionBackward(savedQ, savedK, savedV)
                ? TensorCoreAttentionBackwardPass(savedQ, savedK, savedV, keep, o, lse, gradOutput, causal, scale, joinHeads, dropout.Mask)
                : Fp32Backward(temps.F32(savedQ), temps.F32(savedK), temps.F32(savedV), gradOutput);
            return [RoundTo(dq, Edges[0].DType), RoundTo(dk, Edges[1].DType), RoundTo(dv, Edges[2].DType)];
        }

        /// <summary>A gradient in its input's dtype: itself when it already is (the tensor-core backward's bf16 dk, dv), else a rounded copy.</summary>
        private static Tensor RoundTo(Tensor grad, DType dtype)
        {
            if (grad.DType == dtype) return grad;
            Tensor rounded = Cast(grad, dtype);
            grad.Dispose();
            return rounded;
        }

        private unsafe (Tensor Dq, Tensor Dk, Tensor Dv) Fp32Backward(Tensor q, Tensor k, Tensor v, Tensor gradOutput)
        {
            using var temps = new TempScope();
            int batch = q.Size(0), heads = q.Size(1), t = q.Size(2), d = q.Size(3);
            // o and dO as fp32 in the layout the kernels read: the CPU's takes joined heads as they are,
            // the other ILGPU kernels [B, H, T, D] (a joined pair is permuted back here).
            bool cpu = q.Device.IsCpu, unjoin = joinHeads && !cpu;
            Tensor g = unjoin ? temps.Own(Unjoined(gradOutput, batch, t, heads, d)) : temps.F32(gradOutput);
            Tensor of = unjoin ? temps.Own(Unjoined(o, batch, t, heads, d)) : temps.F32(o);
            Tensor dq = Tensor.Empty(q.Shape, DType.Float32, q.Device);
            Tensor dk = Tensor.Empty(q.Shape, DType.Float32, q.Device);
            Tensor dv = Tensor.Empty(q.Shape, DType.Float32, q.Device);
            int rows = batch * heads * t;
            if (rows > 0)
                Dispatch.Run(q.Device,
                    cpu: () => AttentionCpu.Backward(batch, heads, t, d, q.Ptr<float>(), k.Ptr<float>(), v.Ptr<float>(),
                        keep is null ? null : keep.Ptr<float>(), causal, scale, of.Ptr<float>(), lse.Ptr<float>(), g.Ptr<float>(),
                        dq.Ptr<float>(), dk.Ptr<float>(), dv.Ptr<float>(), joinHeads, dropout.Cpu),
                    ilgpu: s =>
                    {
                        using Tensor delta = Tensor.Empty([batch, heads, t], DType.Float32, q.Device);
                        using Tensor? ones = keep is null ? Tensor.Ones([batch, t], q.Device) : null;
                        Tensor keepAll = keep ?? ones!;
                        FlashKernels.AttentionRowDot.Launch(s, rows, g.View<float>(), of.View<float>(), delta.View<float>(), d);
                        if (AttentionBackward.UsesGemm(s))
                        {
                            // Batched GEMMs over chunks of heads (cuBLAS on CUDA): AttentionGemmBackward.cs.
                            AttentionGemmBackward(s, q.Device, batch, heads, t, d, causal, scale, q.View<float>(), k.View<float>(), v.View<float>(),
                                keepAll.View<float>(), lse.View<float>(), delta.View<float>(), g.View<float>(), dq.View<float>(), dk.View<float>(), dv.View<float>(),
                                dropout.Mask);
                            return;
                        }
                        var rowArgs = new FlashKernels.FlashArgs(t, d, heads * t, causal, scale, dropout.Mask);
                        FlashKernels.AttentionBackwardQuery.Launch(s, rows, q.View<float>(), k.View<float>(), v.View<float>(), keepAll.View<float>(),
                            g.View<float>(), lse.View<float>(), delta.View<float>(), dq.View<float>(), rowArgs);
                        FlashKernels.AttentionBackwardKey.Launch(s, rows, q.View<float>(), k.View<float>(), v.View<float>(), keepAll.View<float>(),
                            g.View<float>(), lse.View<float>(), delta.View<float>(), dk.View<float>(), dv.View<float>(), rowArgs);
                    });
            return (dq, dk, dv);
        }

        /// <summary>A joined [B, T, H D] tensor as a fresh contiguous fp32 [B, H, T, D] (one permuted copy or cast; the caller owns it).</summary>
        private static Tensor Unjoined(Tensor x, int batch, int t, int heads, int d)
        {
            using Tensor rows = x.Reshape(batch, t, heads, d);
            using Tensor heads4 = rows.Transpose(1, 2);
            Tensor y = Dispatch.F32(heads4); // a cast, or a contiguous copy of the permuted view
            if (!ReferenceEquals(y, heads4)) return y;
            // T or H is 1: the view is already contiguous fp32 (x's own storage); copy it all the same.
            Tensor copy = Tensor.Empty(heads4.Shape, DType.Float32, x.Device);
            CopyStrided(heads4, copy);
            return copy;
        }
    }
}
