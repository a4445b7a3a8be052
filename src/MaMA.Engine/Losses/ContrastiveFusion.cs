using ILGPU;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Linear;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using ContrastiveKernels = MaMA.Kernels.Contrastive.ContrastiveLoss;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Losses;

/// <summary>
/// The fused contrastive cross-entropy shared by <see cref="Losses.ClipLoss"/> and
/// <see cref="Losses.InterViewContrast"/> (kernels: <see cref="ContrastiveKernels"/>; fast CPU:
/// <see cref="ContrastiveSimd"/>).
/// <para>
/// Forward: the similarity blocks sim [blocks, N, N] by GEMM (X = left right^T; with self
/// blocks also A = left left^T and Z = right right^T; Y = X^T is read as columns of X, never
/// formed), then one stats pass giving every row's log-sum-exp (left rows and right rows), the
/// loss, and the log-scale derivative, then a one-index reduction. On the fast CPU backend the
/// GEMMs and the stats are one fork-join over row bands (<see cref="ContrastiveSimd.FusedForward"/>)
/// and A and Z are computed as upper parts only (half their multiply-adds); the CPU backward
/// mirrors them whole first. Backward: one pass writes the
/// gradient with respect to the similarities, grad [blocks, N, N] (the only other N x N buffer),
/// then GEMMs: dleft = G_X right (+ G_A left), dright = G_X^T left (+ G_Z right).
/// </para>
/// <para>
/// Gradient derivation (logits = s sim, loss = inv * sum over the 2N rows of lse(row) - target):
/// d lse(row) / d logit = softmax(row), d target / d logit = one-hot, so each similarity gets
/// s inv (softmax - onehot) from every row it appears in. X[r, j] appears in left row r and, as
/// Y[j, r], in right row j: G_X = s inv (P_left + P_right^T - 2 I). A[r, j] = left_r . left_j is
/// one product read by left rows r and j: G_A = s inv (P_A + P_A^T) off the diagonal (likewise Z).
/// With sim = left right^T: dleft = G right, dright = G^T left. For the log-scale,
/// d loss / d s = inv * sum over rows of (softmax-weighted mean of the unscaled row - its target),
/// which is sum(G_unscaled o sim), so d loss / d log s = s * that.
/// </para>
/// </summary>
internal static class ContrastiveFusion
{
    /// <summary>
    /// The loss (0-d fp32) over left/right [N, E]; <paramref name="logScale"/> (one element, the
    /// log of the scale) or <paramref name="fixedScale"/>; <paramref name="selfBlocks"/> adds the A and Z blocks.
    /// </summary>
    public static unsafe Tensor Loss(string op, Tensor left, Tensor right, Tensor? logScale, float fixedScale, bool selfBlocks, float inv)
    {
        int n = left.Size(0), e = left.Size(1);
        int blocks = selfBlocks ? 3 : 1;
        Device device = left.Device;
        // 16-bit embeddings (bf16 under autocast) are kept for the backward as they are and widened only
        // where fp32 is computed; on CUDA and the simulator the similarity GEMMs take bf16 ones directly
        // (bf16 tensor cores, fp32 accumulation).
        bool sixteen = left.DType != DType.Float32 && right.DType == left.DType;
        bool tensorCores = sixteen && left.DType == DType.BFloat16 && Ops.UsesTensorCores(device, DType.BFloat16, DType.BFloat16);
        Tensor ls, savedLeft, savedRight;
        Tensor? lf = null, rf = null;
        using (GradMode.NoGrad())
        {
            savedLeft = sixteen ? left.Contiguous() : Dispatch.F32(left);
            savedRight = sixteen ? right.Contiguous() : Dispatch.F32(right);
            if (!tensorCores)
            {
                lf = Dispatch.F32(savedLeft);
                rf = Dispatch.F32(savedRight);
            }
            ls = logScale is null ? Tensor.Zeros([1], DType.Float32, device) : Dispatch.F32(logScale);
        }
        int useLog = logScale is null ? 0 : 1;
        Tensor sim = Tensor.Empty([blocks, n, n], DType.Float32, device);
        Tensor lse = Tensor.Empty([2 * n], DType.Float32, device);
        Tensor scaleGrad = Tensor.Empty([1], DType.Float32, device);
        Tensor loss = Tensor.Empty([], DType.Float32, device);
        Dispatch.Run(device,
            cpu: () =>
            {
                // One fork-join for the GEMMs and the statistics; the self blocks' lower parts are
                // filled by the backward (MirrorSelfBlocks) only when a gradient is asked for.
                using Tensor transposed = Tensor.Empty([selfBlocks ? 2 : 1, e, n], DType.Float32, device);
                float scale = useLog != 0 ? MathF.Exp(ls.Ptr<float>()[0]) : fixedScale;
                ContrastiveSimd.FusedForward(n, e, blocks, scale, inv, lf!.Ptr<float>(), rf!.Ptr<float>(), transposed.Ptr<float>(),
                    sim.Ptr<float>(), lse.Ptr<float>(), loss.Ptr<float>(), scaleGrad.Ptr<float>());
            },
            ilgpu: st =>
            {
                ArrayView<float> s = sim.View<float>();
                long nn = (long)n * n;
                if (tensorCores)
                {
                    ArrayView<ushort> l = savedLeft.View<ushort>(), r = savedRight.View<ushort>();
                    DeviceGemm.RunBf16(st, 1, n, n, e, l, 0, e, 1, r, 0, 1, e, s.SubView(0, nn));
                    if (selfBlocks)
                    {
                        DeviceGemm.RunBf16(st, 1, n, n, e, l, 0, e, 1, l, 0, 1, e, s.SubView(nn, nn));
                        DeviceGemm.RunBf16(st, 1, n, n, e, r, 0, e, 1, r, 0, 1, e, s.SubView(2 * nn, nn));
                    }
                }
                else
                {
                    ArrayView<float> l = lf!.View<float>(), r = rf!.View<float>();
                    Gemm(st, n, n, e, l, e, 1, r, 1, e, s.SubView(0, nn), 0f);
                    if (selfBlocks)
                    {
                        Gemm(st, n, n, e, l, e, 1, l, 1, e, s.SubView(nn, nn), 0f);
                        Gemm(st, n, n, e, r, e, 1, r, 1, e, s.SubView(2 * nn, nn), 0f);
                    }
                }
                using Tensor partial = Tensor.Empty([2 * n], DType.Float32, device);
                // Each logit row's statistics in runs (a thread each), then merged per row.
                int parts = MaMA.Kernels.Reduction.Runs.For(selfBlocks ? 2 * n : n);
                using Tensor runs = Tensor.Empty([3, parts, 2 * n], DType.Float32, device);
                ContrastiveKernels.StatsPart.Launch(st, checked(parts * 2 * n), s, ls.View<float>(), runs.View<float>(), n, blocks, parts, fixedScale, useLog);
                ContrastiveKernels.Stats.Launch(st, n, s, ls.View<float>(), runs.View<float>(), lse.View<float>(), partial.View<float>(), n, blocks, parts,
                    fixedScale, useLog);
                // The loss and scale-gradient sums over r, in runs too, then the runs in order.
                int sumParts = MaMA.Kernels.Reduction.Runs.For(n);
                using Tensor runSums = Tensor.Empty([2, sumParts], DType.Float32, device);
                ContrastiveKernels.ReducePart.Launch(st, 2 * sumParts, partial.View<float>(), runSums.View<float>(), n, sumParts);
                ContrastiveKernels.Reduce.Launch(st, 1, runSums.View<float>(), ls.View<float>(), loss.View<float>(), scaleGrad.View<float>(), sumParts, inv, fixedScale, useLog);
            });

        // fp32 widenings of 16-bit embeddings were for this forward only.
        if (sixteen)
        {
            lf?.Dispose();
            rf?.Dispose();
        }
        Tensor[] inputs = logScale is null ? [left, right] : [left, right, logScale];
        // The N x N buffers and the saved copies go back to the allocator after the backward, or now
        // when there is nothing to differentiate.
        Node node = new ContrastiveNode(op, inputs, savedLeft, savedRight, ls, sim, lse, scaleGrad, blocks, useLog, fixedScale, inv)
            .Owning(sim, lse, scaleGrad, Node.IfCopy(savedLeft, left), Node.IfCopy(savedRight, right), Node.IfCopy(ls, logScale));
        return GradMode.RecordIfNeeded(loss, node);
    }

    /// <summary>c [m, n] (row-major, contiguous) = a @ b (+ beta c) with element strides: cuBLAS on CUDA when loaded, else the generated strided GEMM.</summary>
    private static void Gemm(AcceleratorStream stream, int m, int n, int k, ArrayView<float> a, long aRow, long aCol,
        ArrayView<float> b, long bRow, long bCol, ArrayView<float> c, float beta)
    {
        DeviceGemm.Run(stream, 1, m, n, k, a, 0, aRow, aCol, b, 0, bRow, bCol, c, beta);
    }

    /// <summary>
    /// Saved: the operands (fp32, or 16-bit as they came; widened here for the backward's fp32 GEMMs),
    /// the log-scale, sim, the log-sum-exps and the log-scale derivative.
    /// </summary>
    private sealed class ContrastiveNode(string op, Tensor[] inputs, Tensor savedLeft, Tensor savedRight, Tensor ls, Tensor sim, Tensor lse, Tensor scaleGrad,
        int blocks, int useLog, float fixedScale, float inv) : Node(inputs)
    {
        public override string Name => op;

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            using Tensor? widenedLeft = savedLeft.DType == DType.Float32 ? null : Dispatch.F32(savedLeft);
            using Tensor? widenedRight = savedRight.DType == DType.Float32 ? null : Dispatch.F32(savedRight);
            Tensor lf = widenedLeft ?? savedLeft, rf = widenedRight ?? savedRight;
            Tensor g = Dispatch.F32(dy);
            int n = lf.Size(0), e = lf.Size(1);
            long nn = (long)n * n;
            Device device = lf.Device;
            bool needLeft = Edges[0].RequiresGrad, needRight = Edges[1].RequiresGrad;
            bool needScale = Edges.Length > 2 && Edges[2].RequiresGrad;
            Tensor grad = Tensor.Empty([blocks, n, n], DType.Float32, device);
            Tensor? dLeft = needLeft ? Tensor.Empty([n, e], DType.Float32, device) : null;
            Tensor? dRight = needRight ? Tensor.Empty([n, e], DType.Float32, device) : null;
            Tensor dScale = Tensor.Empty(useLog != 0 ? Edges[2].Shape : [1], DType.Float32, device);
            Dispatch.Run(device,
                cpu: () =>
                {
                    float scale = useLog != 0 ? MathF.Exp(ls.Ptr<float>()[0]) : fixedScale;
                    float d = g.Ptr<float>()[0];
                    dScale.Ptr<float>()[0] = d * scaleGrad.Ptr<float>()[0];
                    if (!needLeft && !needRight) return;
                    float* l = lf.Ptr<float>(), r = rf.Ptr<float>(), gr = grad.Ptr<float>();
                    if (blocks == 3) ContrastiveSimd.MirrorSelfBlocks(n, sim.Ptr<float>());
                    ContrastiveSimd.Gradient(n, blocks, scale, d * scale * inv, sim.Ptr<float>(), lse.Ptr<float>(), gr);
                    if (dLeft is not null)
                    {
                        Sgemm.Run(n, e, n, gr, n, 1, r, e, 1, dLeft.Ptr<float>(), e);
                        if (blocks == 3) Sgemm.Run(n, e, n, gr + nn, n, 1, l, e, 1, dLeft.Ptr<float>(), e, beta: 1f);
                    }
                    if (dRight is not null)
                    {
                        Sgemm.Run(n, e, n, gr, 1, n, l, e, 1, dRight.Ptr<float>(), e);
                        if (blocks == 3) Sgemm.Run(n, e, n, gr + 2 * nn, n, 1, r, e, 1, dRight.Ptr<float>(), e, beta: 1f);
                    }
                },
                ilgpu: st =>
                {
                    ArrayView<float> l = lf.View<float>(), r = rf.View<float>(), gr = grad.View<float>();
                    ContrastiveKernels.Gradient.Launch(st, checked((int)(blocks * nn)), sim.View<float>(), ls.View<float>(), lse.View<float>(), g.View<float>(),
                        scaleGrad.View<float>(), gr, dScale.View<float>(), n, inv, fixedScale, useLog);
                    if (dLeft is not null)
                    {
                        Gemm(st, n, e, n, gr.SubView(0, nn), n, 1, r, e, 1, dLeft.View<float>(), 0f);
                        if (blocks == 3) Gemm(st, n, e, n, gr.SubView(nn, nn), n, 1, l, e, 1, dLeft.View<float>(), 1f);
                    }
                    if (dRight is not null)
                    {
                        Gemm(st, n, e, n, gr.SubView(0, nn), 1, n, l, e, 1, dRight.View<float>(), 0f);
                        if (blocks == 3) Gemm(st, n, e, n, gr.SubView(2 * nn, nn), n, 1, r, e, 1, dRight.View<float>(), 1f);
                    }
                });
            grad.Dispose();
            if (Edges.Length == 2)
            {
                dScale.Dispose();
                return [dLeft, dRight];
            }
            if (!needScale)
            {
                dScale.Dispose();
                return [dLeft, dRight, null];
            }
            return [dLeft, dRight, dScale];
        }
    }
}
