using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Linear;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Batched matrix product: a [..., M, K] (or [..., K, M] with transposeA) times b [..., K, N]
    /// (or [..., N, K] with transposeB) gives [..., M, N]. Leading batch axes broadcast; a 2-D
    /// operand is shared by every batch. Transposes are stride swaps, never copies.
    /// </summary>
    public static unsafe Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        if (Autocast.Lowers(a, b))
        {
            Tensor la = Autocast.Lower(a), lb = Autocast.Lower(b);
            return Autocast.OwnCopies(MatMul(la, lb, transposeA, transposeB), (la, a), (lb, b));
        }
        Dispatch.SameDevice("matmul", a, b);
        Dispatch.RequireFloat("matmul", a);
        Dispatch.RequireFloat("matmul", b);
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"matmul needs rank >= 2 operands, got {Shape.Format(a.Shape)} and {Shape.Format(b.Shape)}.");
        Tensor av = transposeA ? Transpose(a, -1, -2) : a;
        Tensor bv = transposeB ? Transpose(b, -1, -2) : b;
        int m = av.Shape[^2], k = av.Shape[^1], kb = bv.Shape[^2], n = bv.Shape[^1];
        if (k != kb)
            throw new ArgumentException($"matmul: inner dimensions differ: {Shape.Format(a.Shape)}{(transposeA ? "^T" : "")} @ {Shape.Format(b.Shape)}{(transposeB ? "^T" : "")} ({k} vs {kb}).");
        int[] batch = Shape.Broadcast(av.Shape[..^2], bv.Shape[..^2]);
        int batchCount = checked((int)Shape.Numel(batch));
        int[] outShape = [.. batch, m, n];

        Tensor c = Tensor.Empty(outShape, DType.Float32, a.Device);
        using (GradMode.NoGrad())
        {
            if (UsesTensorCores(c.Device, av.DType, bv.DType))
            {
                // bf16 operands (or fp32 under TensorCoreMath.AllowBf16) on CUDA / the simulator: TensorCorePath.cs.
                if (c.Numel > 0) TensorCoreMatMul(av, bv, c, batch, batchCount, m, n, k);
            }
            else
            {
                // Operands in fp32, batch axes flattened to one (stride 0 where broadcast). The widened
                // copies and batched views are this call's own: released here, not left to the finalizer.
                Tensor af = av.DType == DType.Float32 ? av : av.To(DType.Float32), bf = bv.DType == DType.Float32 ? bv : bv.To(DType.Float32);
                using (Tensor a3 = Batched(af, batch, m, k))
                using (Tensor b3 = Batched(bf, batch, k, n))
                    if (c.Numel > 0) Gemm(a3, b3, c, batchCount, m, n, k);
                if (!ReferenceEquals(af, av)) af.Dispose();
                if (!ReferenceEquals(bf, bv)) bf.Dispose();
            }
        }
        return GradMode.RecordIfNeeded(c, new MatMulNode(a, b, transposeA, transposeB));
    }

    /// <summary>Views x [..., r, s] as [batchCount, r, s] with broadcast batch strides (copying only if the batch axes cannot be merged).</summary>
    private static Tensor Batched(Tensor x, int[] batch, int r, int s)
    {
        int[] full = [.. batch, r, s];
        Tensor e = Expand(x, full);
        // Merge batch axes: possible without copy when, over the axes of size > 1 (a unit axis's stride
        // says nothing about the layout: a transposed [B, 1, ...] view carries any), each is contiguous
        // over the next or all have stride 0 (broadcast). The merged stride is the innermost such axis's.
        long[] strides = e.Strides.ToArray();
        int[] axes = Enumerable.Range(0, batch.Length).Where(d => batch[d] != 1).ToArray();
        bool allZero = axes.All(d => strides[d] == 0);
        bool mergeable = allZero;
        if (!allZero)
        {
            mergeable = true;
            for (int i = 0; i + 1 < axes.Length; i++)
                if (strides[axes[i]] != strides[axes[i + 1]] * batch[axes[i + 1]]) mergeable = false;
        }
        if (!mergeable)
        {
            Tensor copy = Contiguous(e);
            if (!ReferenceEquals(e, x)) e.Dispose();
            e = copy;
        }
        long batchStride = axes.Length == 0 || allZero ? 0 : e.Strides[axes[^1]];
        e.Storage.AddReference();
        var batched = new Tensor(e.Storage, e.Offset, [checked((int)Math.Max(1, Shape.Numel(batch))), r, s], [batchStride, e.Strides[^2], e.Strides[^1]], e.DType);
        // The expanded view (or copy) was only a step: the batched view holds its own reference.
        if (!ReferenceEquals(e, x)) e.Dispose();
        return batched;
    }

    /// <summary>c [batch, m, n] (contiguous) = a [batch, m, k] @ b [batch, k, n] with arbitrary strides.</summary>
    private static unsafe void Gemm(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k)
    {
        long aB = a.Strides[0], aR = a.Strides[1], aC = a.Strides[2];
        long bB = b.Strides[0], bR = b.Strides[1], bC = b.Strides[2];
        Dispatch.Run(c.Device,
            cpu: () =>
            {
                float* pa = a.Ptr<float>(), pb = b.Ptr<float>(), pc = c.Ptr<float>();
                for (int i = 0; i < batch; i++)
                    Sgemm.Run(m, n, k, pa + i * aB, aR, aC, pb + i * bB, bR, bC, pc + (long)i * m * n, n);
            },
            ilgpu: s =>
            {
                // CUDA: cuBLAS when it is loaded; otherwise, and on other devices, the generated strided kernel.
                DeviceGemm.Run(s, batch, m, n, k, a.View<float>(a.Extent), aB, aR, aC, b.View<float>(b.Extent), bB, bR, bC, c.View<float>());
            });
    }

    /// <summary>
    /// Saves b when a needs a gradient and a when b does (a frozen weight keeps no copy of its input).
    /// A product of bf16 operands runs its backward products on bf16 operands too: dy is rounded to
    /// bf16 first, as PyTorch's gradient of a bf16 matmul output is, so on CUDA both backward GEMMs
    /// are bf16 GEMMs (cuBLAS or the tensor cores) rather than fp32 GEMMs over widened copies. Every
    /// device rounds the same way, inside an autocast scope or not.
    /// </summary>
    private sealed class MatMulNode : Node
    {
        private readonly Tensor? _a, _b;
        private readonly bool _transposeA, _transposeB, _bf16;

        public MatMulNode(Tensor a, Tensor b, bool transposeA, bool transposeB) : base(a, b)
        {
            _a = b.RequiresGrad ? a : null;
            _b = a.RequiresGrad ? b : null;
            _transposeA = transposeA;
            _transposeB = transposeB;
            _bf16 = a.DType == DType.BFloat16 && b.DType == DType.BFloat16;
        }

        public override string Name => "matmul";

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            // C = A B:  dA = dC B^T,  dB = A^T dC; with transposed operands the products swap.
            Tensor dy = _bf16 && gradOutput.DType != DType.BFloat16 ? gradOutput.To(DType.BFloat16) : gradOutput;
            try
            {
                Tensor? da = null, db = null;
                if (Edges[0].RequiresGrad)
                {
                    Tensor b = _b!;
                    Tensor g = _transposeA ? MatMul(b, dy, transposeA: _transposeB, transposeB: true) : MatMul(dy, b, transposeB: !_transposeB);
                    da = SumTo(g, Edges[0].Shape);
                    if (!ReferenceEquals(da, g)) g.Dispose(); // a broadcast operand's per-batch products
                }
                if (Edges[1].RequiresGrad)
                {
                    Tensor a = _a!;
                    Tensor g = _transposeB ? MatMul(dy, a, transposeA: true, transposeB: _transposeA) : MatMul(a, dy, transposeA: !_transposeA);
                    db = SumTo(g, Edges[1].Shape);
                    if (!ReferenceEquals(db, g)) g.Dispose();
                }
                return [da, db];
            }
            finally
            {
                if (!ReferenceEquals(dy, gradOutput)) dy.Dispose();
            }
        }
    }
}
