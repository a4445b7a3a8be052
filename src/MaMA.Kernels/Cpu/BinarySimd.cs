using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using BinaryKernels = MaMA.Kernels.Elementwise.Binary;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Broadcasting y = a (op) b on the fast CPU backend for any operand strides (0 on broadcast axes).
/// Axes are coalesced, then y is produced row by row over its innermost axis: a row whose operands
/// are unit-stride or broadcast along it (bias row [C] against [..., C], per-row scalar column,
/// scalar) is one TensorPrimitives call (SIMD); other rows take a strided scalar loop. Rows are
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
            CpuParallel.For(rows * segments, 1, (item, _) =>
            {
                long row = item / segments, start = item % segments * CpuParallel.ElementChunk;
                long count = Math.Min(CpuParallel.ElementChunk, len - start);
                var cursor = new RowCursor(shape, rank, row, sa, sb, sy);
                Row((float*)pa + cursor.Offset0 + start * ia, ia, (float*)pb + cursor.Offset1 + start * ib, ib,
                    (float*)py + cursor.Offset2 + start, (int)count, op);
            });
            return;
        }
        CpuParallel.For(rows, CpuParallel.ChunkFor(len), (first, count) =>
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
        var dst = new Span<float>(y, n);
        if (n >= MinSimdRow && ia == 1 && ib == 1)
        {
            var sa = new ReadOnlySpan<float>(a, n);
            var sb = new ReadOnlySpan<float>(b, n);
            switch (op)
            {
                case BinaryKernels.Add: TensorPrimitives.Add(sa, sb, dst); break;
                case BinaryKernels.Subtract: TensorPrimitives.Subtract(sa, sb, dst); break;
                case BinaryKernels.Multiply: TensorPrimitives.Multiply(sa, sb, dst); break;
                default: TensorPrimitives.Divide(sa, sb, dst); break;
            }
            return;
        }
        if (n >= MinSimdRow && ia == 1 && ib == 0)
        {
            var sa = new ReadOnlySpan<float>(a, n);
            float vb = *b;
            switch (op)
            {
                case BinaryKernels.Add: TensorPrimitives.Add(sa, vb, dst); break;
                case BinaryKernels.Subtract: TensorPrimitives.Subtract(sa, vb, dst); break;
                case BinaryKernels.Multiply: TensorPrimitives.Multiply(sa, vb, dst); break;
                default: TensorPrimitives.Divide(sa, vb, dst); break;
            }
            return;
        }
        if (n >= MinSimdRow && ia == 0 && ib == 1)
        {
            float va = *a;
            var sb = new ReadOnlySpan<float>(b, n);
            switch (op)
            {
                case BinaryKernels.Add: TensorPrimitives.Add(sb, va, dst); break;
                case BinaryKernels.Subtract: TensorPrimitives.Subtract(va, sb, dst); break;
                case BinaryKernels.Multiply: TensorPrimitives.Multiply(sb, va, dst); break;
                default: TensorPrimitives.Divide(va, sb, dst); break;
            }
            return;
        }
        if (ia == 0 && ib == 0)
        {
            dst.Fill(op switch
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
}
