using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BinaryKernels = MaMA.Kernels.Elementwise.Binary;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Broadcasting y = a (op) b on the fast CPU backend for any operand strides (0 on broadcast axes).
/// Axes are coalesced, then y is produced row by row over its innermost axis: a row whose operands
/// are unit-stride or broadcast along it (bias row [C] against [..., C], per-row scalar column,
/// scalar) is one SIMD loop (Vector512 / Vector256); other rows take a strided scalar loop. Rows are
/// split into ~64K-element work items across cores. op: the <see cref="BinaryKernels"/> codes.
/// </summary>
public static unsafe class BinarySimd
{
    private const int MinSimdRow = 16;

    /// <summary>y (contiguous, <paramref name="outShape"/>) = a (op) b; a and b point at their first element.</summary>
    public static void Run(ReadOnlySpan<int> outShape, float* a, ReadOnlySpan<long> aStrides, float* b, ReadOnlySpan<long> bStrides, float* y, int op)
    {
        int rank0 = Math.Max(outShape.Length, 1);
        long[] shape = new long[rank0], sa = new long[rank0], sb = new long[rank0], sy = new long[rank0];
        long numel = 1;
        for (int d = outShape.Length - 1; d >= 0; d--)
        {
            shape[d] = outShape[d];
            sa[d] = aStrides[d];
            sb[d] = bStrides[d];
            sy[d] = numel;
            numel *= outShape[d];
        }
        if (outShape.Length == 0) shape[0] = 1;
        if (numel == 0) return;
        int rank = StridedLayout.Coalesce(shape, sa, sb, sy);
        long len = shape[rank - 1], rows = numel / len;
        long ia = sa[rank - 1], ib = sb[rank - 1];
        nint pa = (nint)a, pb = (nint)b, py = (nint)y;

        if (len > CpuParallel.ElementChunk)
        {
            // Long rows: one work item per row segment.
            long segments = (len + CpuParallel.ElementChunk - 1) / CpuParallel.ElementChunk;
            CpuParallel.For(rows * segments, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item, _) =>
            {
                long row = item / segments, start = item % segments * CpuParallel.ElementChunk;
                long count = Math.Min(CpuParallel.ElementChunk, len - start);
                var cursor = new RowCursor(shape, rank, row, sa, sb, sy);
                Row((float*)pa + cursor.Offset0 + start * ia, ia, (float*)pb + cursor.Offset1 + start * ib, ib,
                    (float*)py + cursor.Offset2 + start, (int)count, op);
            });
            return;
        }
        CpuParallel.For(rows, CpuParallel.ChunkFor(len), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            var cursor = new RowCursor(shape, rank, first, sa, sb, sy);
            for (long r = 0; r < count; r++)
            {
                Row((float*)pa + cursor.Offset0, ia, (float*)pb + cursor.Offset1, ib, (float*)py + cursor.Offset2, (int)len, op);
                cursor.Next();
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row(float* a, long ia, float* b, long ib, float* y, int n, int op)
    {
        if (n >= MinSimdRow && ia == 1 && ib == 1)
        {
            switch (op)
            {
                case BinaryKernels.Add: VectorVector<AddOp>(a, b, y, n); break;
                case BinaryKernels.Subtract: VectorVector<SubtractOp>(a, b, y, n); break;
                case BinaryKernels.Multiply: VectorVector<MultiplyOp>(a, b, y, n); break;
                default: VectorVector<DivideOp>(a, b, y, n); break;
            }
            return;
        }
        if (n >= MinSimdRow && ia == 1 && ib == 0)
        {
            switch (op)
            {
                case BinaryKernels.Add: VectorScalar<AddOp>(a, *b, y, n); break;
                case BinaryKernels.Subtract: VectorScalar<SubtractOp>(a, *b, y, n); break;
                case BinaryKernels.Multiply: VectorScalar<MultiplyOp>(a, *b, y, n); break;
                default: VectorScalar<DivideOp>(a, *b, y, n); break;
            }
            return;
        }
        if (n >= MinSimdRow && ia == 0 && ib == 1)
        {
            switch (op)
            {
                case BinaryKernels.Add: ScalarVector<AddOp>(*a, b, y, n); break;
                case BinaryKernels.Subtract: ScalarVector<SubtractOp>(*a, b, y, n); break;
                case BinaryKernels.Multiply: ScalarVector<MultiplyOp>(*a, b, y, n); break;
                default: ScalarVector<DivideOp>(*a, b, y, n); break;
            }
            return;
        }
        if (ia == 0 && ib == 0)
        {
            new Span<float>(y, n).Fill(op switch
            {
                BinaryKernels.Add => *a + *b,
                BinaryKernels.Subtract => *a - *b,
                BinaryKernels.Multiply => *a * *b,
                _ => *a / *b,
            });
            return;
        }
        switch (op)
        {
            case BinaryKernels.Add: for (int j = 0; j < n; j++) y[j] = a[j * ia] + b[j * ib]; break;
            case BinaryKernels.Subtract: for (int j = 0; j < n; j++) y[j] = a[j * ia] - b[j * ib]; break;
            case BinaryKernels.Multiply: for (int j = 0; j < n; j++) y[j] = a[j * ia] * b[j * ib]; break;
            default: for (int j = 0; j < n; j++) y[j] = a[j * ia] / b[j * ib]; break;
        }
    }

    /// <summary>y = alpha * x + beta (two roundings, as x * alpha then + beta; beta == 0 adds nothing), chunked across cores.</summary>
    public static void Affine(long n, float* x, float* y, float alpha, float beta)
    {
        nint px = (nint)x, py = (nint)y;
        CpuParallel.For(n, CpuParallel.ElementChunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, count) =>
        {
            if (beta == 0f) VectorScalar<MultiplyOp>((float*)px + start, alpha, (float*)py + start, (int)count);
            else AffineRow((float*)px + start, alpha, beta, (float*)py + start, (int)count);
        });
    }

    // Hand-written loops (not TensorPrimitives): compiled fully optimised on first use, so the first
    // calls are as fast as later ones instead of running tier-0 code until tiering catches up.

    /// <summary>y[i] = a[i] (op) b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void VectorVector<TOp>(float* a, float* b, float* y, int n) where TOp : struct, IBinaryOp
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - V512.Count; i += V512.Count) V512.Store(TOp.Apply(V512.Load(a + i), V512.Load(b + i)), y + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - V256.Count; i += V256.Count) V256.Store(TOp.Apply(V256.Load(a + i), V256.Load(b + i)), y + i);
        for (; i < n; i++) V1.Store(TOp.Apply(V1.Load(a + i), V1.Load(b + i)), y + i);
    }

    /// <summary>y[i] = a[i] (op) b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void VectorScalar<TOp>(float* a, float b, float* y, int n) where TOp : struct, IBinaryOp
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            V512 vb = V512.Splat(b);
            for (; i <= n - V512.Count; i += V512.Count) V512.Store(TOp.Apply(V512.Load(a + i), vb), y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            V256 vb = V256.Splat(b);
            for (; i <= n - V256.Count; i += V256.Count) V256.Store(TOp.Apply(V256.Load(a + i), vb), y + i);
        }
        V1 sb = V1.Splat(b);
        for (; i < n; i++) V1.Store(TOp.Apply(V1.Load(a + i), sb), y + i);
    }

    /// <summary>y[i] = a (op) b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ScalarVector<TOp>(float a, float* b, float* y, int n) where TOp : struct, IBinaryOp
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            V512 va = V512.Splat(a);
            for (; i <= n - V512.Count; i += V512.Count) V512.Store(TOp.Apply(va, V512.Load(b + i)), y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            V256 va = V256.Splat(a);
            for (; i <= n - V256.Count; i += V256.Count) V256.Store(TOp.Apply(va, V256.Load(b + i)), y + i);
        }
        V1 sa = V1.Splat(a);
        for (; i < n; i++) V1.Store(TOp.Apply(sa, V1.Load(b + i)), y + i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AffineRow(float* x, float alpha, float beta, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            V512 va = V512.Splat(alpha), vb = V512.Splat(beta);
            for (; i <= n - V512.Count; i += V512.Count) V512.Store(V512.Load(x + i) * va + vb, y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            V256 va = V256.Splat(alpha), vb = V256.Splat(beta);
            for (; i <= n - V256.Count; i += V256.Count) V256.Store(V256.Load(x + i) * va + vb, y + i);
        }
        for (; i < n; i++) y[i] = x[i] * alpha + beta;
    }

    internal interface IBinaryOp
    {
        static abstract V Apply<V>(V a, V b) where V : unmanaged, ISimd<V>;
    }

    internal struct AddOp : IBinaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V a, V b) where V : unmanaged, ISimd<V> => a + b;
    }

    internal struct SubtractOp : IBinaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V a, V b) where V : unmanaged, ISimd<V> => a - b;
    }

    internal struct MultiplyOp : IBinaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V a, V b) where V : unmanaged, ISimd<V> => a * b;
    }

    internal struct DivideOp : IBinaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V a, V b) where V : unmanaged, ISimd<V> => a / b;
    }
}
