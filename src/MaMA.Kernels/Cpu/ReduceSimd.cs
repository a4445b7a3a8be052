using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Sums over any set of axes of a contiguous fp32 tensor on the fast CPU backend, without
/// permuting the reduced axes last. After coalescing, the innermost axis is either
/// <list type="bullet">
/// <item>reduced: each output is a sum of contiguous rows (SIMD row sums, in blocks of
/// 4096 added in double), or</item>
/// <item>kept: each output row is a running row sum, out[0:L] += x[r, 0:L] over the reduced
/// index r (SIMD adds on column strips that stay in L1), with the fp32 partial folded
/// into a double accumulator every 256 rows so long reductions stay accurate.</item>
/// </list>
/// Work is split over outputs (and column strips) across cores; no two work items write the same output.
/// </summary>
public static unsafe class ReduceSimd
{
    private const int RowBlock = 4096;
    private const int FoldRows = 256;
    private const int MaxStrip = 2048;

    /// <summary>
    /// y = scale * sum of x over the axes flagged in <paramref name="reduced"/>; x contiguous with
    /// <paramref name="shape"/>, y contiguous over the kept axes in their order.
    /// </summary>
    public static void Sum(ReadOnlySpan<int> shape, float* x, ReadOnlySpan<bool> reduced, float* y, float scale)
    {
        int rank0 = Math.Max(shape.Length, 1);
        long[] dims = new long[rank0], xs = new long[rank0], ys = new long[rank0];
        long numel = 1, outCount = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            dims[d] = shape[d];
            xs[d] = numel;
            numel *= shape[d];
            if (reduced[d]) continue;
            ys[d] = outCount;
            outCount *= shape[d];
        }
        if (shape.Length == 0) dims[0] = 1;
        if (outCount == 0) return;
        if (numel == 0)
        {
            // The empty sum is 0, scaled like any other (a mean's infinite scale makes it NaN).
            new Span<float>(y, checked((int)outCount)).Fill(0f * scale);
            return;
        }
        int rank = StridedLayout.Coalesce(dims, xs, ys);
        // After coalescing a size>1 axis is reduced exactly when y does not move along it.
        bool innerKept = ys[rank - 1] != 0 || numel == 1;
        long len = dims[rank - 1];

        // Split the outer axes into kept (output position) and reduced (summed over) lists, each
        // with a dummy trailing axis so RowCursor walks all of them.
        var (kDims, kXs, kYs, kRank) = Select(dims, xs, ys, rank, keep: true);
        var (rDims, rXs, _, rRank) = Select(dims, xs, ys, rank, keep: false);
        long kCount = Product(kDims, kRank), rCount = Product(rDims, rRank);
        nint px = (nint)x, py = (nint)y;

        if (innerKept)
        {
            // Output rows (kCount of them) of len columns; strips of columns for parallelism.
            long strip = Math.Min(len, MaxStrip);
            if (kCount < 2 * Environment.ProcessorCount && len > 256)
                strip = Math.Clamp((len / (2L * Environment.ProcessorCount) + 15) / 16 * 16, 256, MaxStrip);
            long strips = (len + strip - 1) / strip;
            CpuParallel.For(kCount * strips, Math.Max(1, CpuParallel.ChunkFor(rCount * strip)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
            {
                float* partial = stackalloc float[MaxStrip];
                double* total = stackalloc double[MaxStrip];
                for (long item = first; item < first + count; item++)
                {
                    long o = item / strips, c0 = item % strips * strip;
                    int cl = (int)Math.Min(strip, len - c0);
                    var oc = new RowCursor(kDims, kRank + 1, o, kXs, kYs);
                    float* src = (float*)px + oc.Offset0 + c0;
                    float* dst = (float*)py + oc.Offset1 + c0;
                    ColumnSums(src, rDims, rXs, rRank, rCount, cl, partial, total, dst, scale);
                }
            });
        }
        else
        {
            CpuParallel.For(kCount, Math.Max(1, CpuParallel.ChunkFor(rCount * len)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
            {
                var oc = new RowCursor(kDims, kRank + 1, first, kXs, kYs);
                for (long o = 0; o < count; o++)
                {
                    double sum;
                    if (rRank == 0)
                    {
                        sum = RowSum((float*)px + oc.Offset0, len);
                    }
                    else
                    {
                        sum = 0;
                        var rc = new RowCursor(rDims, rRank + 1, 0, rXs);
                        for (long r = 0; r < rCount; r++)
                        {
                            sum += RowSum((float*)px + oc.Offset0 + rc.Offset0, len);
                            rc.Next();
                        }
                    }
                    ((float*)py)[oc.Offset1] = (float)(sum * scale);
                    oc.Next();
                }
            });
        }
    }

    /// <summary>
    /// Max over the middle axis of a contiguous [outer, n, inner] tensor: values and the int32 index of
    /// the first maximum; a NaN wins (the first NaN), as in PyTorch and the RowReduce kernel.
    /// inner == 1 scans rows; otherwise running lane-wise maxima over the n rows of each outer slice.
    /// </summary>
    public static void Max(float* x, long outer, int n, long inner, float* values, int* indices)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "max over an empty axis.");
        long count = outer * inner;
        if (count == 0) return;
        nint px = (nint)x, pv = (nint)values, pi = (nint)indices;
        if (inner == 1)
        {
            CpuParallel.For(outer, Math.Max(8, CpuParallel.ChunkFor(n)) / 8 * 8, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, rows) =>
            {
                long r = first;
                // Short rows: eight rows at a time, one gathered column per step.
                if (Avx2.IsSupported && n < 32)
                    for (; r <= first + rows - 8; r += 8)
                        ShortRowsArgMax((float*)px + r * n, n, (float*)pv + r, (int*)pi + r);
                for (; r < first + rows; r++)
                    ((int*)pi)[r] = RowArgMax((float*)px + r * n, n, out ((float*)pv)[r]);
            });
            return;
        }
        long strip = Math.Min(inner, MaxStrip);
        long strips = (inner + strip - 1) / strip;
        CpuParallel.For(outer * strips, Math.Max(1, CpuParallel.ChunkFor((long)n * strip)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, items) =>
        {
            for (long item = first; item < first + items; item++)
            {
                long o = item / strips, c0 = item % strips * strip;
                int cl = (int)Math.Min(strip, inner - c0);
                ColumnArgMax((float*)px + o * n * inner + c0, n, inner, cl, (float*)pv + o * inner + c0, (int*)pi + o * inner + c0);
            }
        });
    }

    /// <summary>Arg-max of 8 consecutive rows of n floats: lane r walks row r through AVX2 gathers (same NaN rule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShortRowsArgMax(float* p, int n, float* values, int* indices)
    {
        Vector256<int> offsets = Vector256.Create(0, n, 2 * n, 3 * n, 4 * n, 5 * n, 6 * n, 7 * n);
        Vector256<float> best = Avx2.GatherVector256(p, offsets, 4);
        Vector256<int> arg = Vector256<int>.Zero;
        for (int j = 1; j < n; j++)
        {
            Vector256<float> v = Avx2.GatherVector256(p + j, offsets, 4);
            Vector256<float> update = Vector256.Equals(best, best) & (Vector256.GreaterThan(v, best) | ~Vector256.Equals(v, v));
            best = Vector256.ConditionalSelect(update, v, best);
            arg = Vector256.ConditionalSelect(update.AsInt32(), Vector256.Create(j), arg);
        }
        Vector256.Store(best, values);
        Vector256.Store(arg, indices);
    }

    /// <summary>Index of the first maximum of p[0:n] (the first NaN if any) and its value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RowArgMax(float* p, int n, out float value)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            // Lane-wise max, with a NaN flag (x != x); the index is found by a scan for the max afterwards.
            Vector256<float> m = Vector256.Load(p), nan = Vector256<float>.Zero;
            for (j = 8; j <= n - 8; j += 8)
            {
                Vector256<float> v = Vector256.Load(p + j);
                nan |= ~Vector256.Equals(v, v);
                m = Vector256.Max(m, v);
            }
            // The tail as one more (overlapping) vector, so a NaN there is seen too.
            Vector256<float> last = Vector256.Load(p + n - 8);
            nan |= ~Vector256.Equals(last, last);
            m = Vector256.Max(m, last);
            nan |= ~Vector256.Equals(m, m);
            if (nan == Vector256<float>.Zero)
            {
                float best = m.GetElement(0);
                for (int i = 1; i < 8; i++) best = MathF.Max(best, m.GetElement(i));
                // The first element equal to the max is the one the sequential scan keeps (ties, +-0 included).
                for (int i = 0; i < n; i++)
                {
                    if (p[i] == best)
                    {
                        value = p[i];
                        return i;
                    }
                }
            }
        }
        float b = p[0];
        int arg = 0;
        for (int i = 1; i < n; i++)
        {
            float v = p[i];
            if (float.IsNaN(b)) break;
            if (v > b || float.IsNaN(v))
            {
                b = v;
                arg = i;
            }
        }
        value = b;
        return arg;
    }

    /// <summary>Lane-wise first max over n rows (row stride <paramref name="stride"/>) of cl columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnArgMax(float* x, int n, long stride, int cl, float* values, int* indices)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; c <= cl - 8; c += 8)
            {
                Vector256<float> best = Vector256.Load(x + c);
                Vector256<int> arg = Vector256<int>.Zero;
                for (int j = 1; j < n; j++)
                {
                    Vector256<float> v = Vector256.Load(x + j * stride + c);
                    // Update where best is not NaN and (v > best or v is NaN).
                    Vector256<float> update = Vector256.Equals(best, best) & (Vector256.GreaterThan(v, best) | ~Vector256.Equals(v, v));
                    best = Vector256.ConditionalSelect(update, v, best);
                    arg = Vector256.ConditionalSelect(update.AsInt32(), Vector256.Create(j), arg);
                }
                Vector256.Store(best, values + c);
                Vector256.Store(arg, indices + c);
            }
        }
        for (; c < cl; c++)
        {
            float b = x[c];
            int arg = 0;
            for (int j = 1; j < n; j++)
            {
                float v = x[j * stride + c];
                if (float.IsNaN(b)) break;
                if (v > b || float.IsNaN(v))
                {
                    b = v;
                    arg = j;
                }
            }
            values[c] = b;
            indices[c] = arg;
        }
    }

    /// <summary>dst[0:cl] = scale * sum over the reduced index r of src[r-offset + 0:cl].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnSums(float* src, long[] rDims, long[] rXs, int rRank, long rCount, int cl, float* partial, double* total, float* dst, float scale)
    {
        var acc = new Span<float>(partial, cl);
        var rc = new RowCursor(rDims, rRank + 1, 0, rXs);
        if (cl < 16)
        {
            // Narrow strips: plain double accumulation beats a library call per row.
            for (int j = 0; j < cl; j++) total[j] = 0;
            for (long r = 0; r < rCount; r++)
            {
                float* row = src + rc.Offset0;
                for (int j = 0; j < cl; j++) total[j] += row[j];
                rc.Next();
            }
            for (int j = 0; j < cl; j++) dst[j] = (float)(total[j] * scale);
            return;
        }
        if (rCount <= FoldRows)
        {
            acc.Clear();
            for (long r = 0; r < rCount; r++)
            {
                BinarySimd.VectorVector<BinarySimd.AddOp>(partial, src + rc.Offset0, partial, cl);
                rc.Next();
            }
            BinarySimd.VectorScalar<BinarySimd.MultiplyOp>(partial, scale, dst, cl);
            return;
        }
        new Span<double>(total, cl).Clear();
        for (long r0 = 0; r0 < rCount; r0 += FoldRows)
        {
            acc.Clear();
            long rows = Math.Min(FoldRows, rCount - r0);
            for (long r = 0; r < rows; r++)
            {
                BinarySimd.VectorVector<BinarySimd.AddOp>(partial, src + rc.Offset0, partial, cl);
                rc.Next();
            }
            for (int j = 0; j < cl; j++) total[j] += partial[j];
        }
        for (int j = 0; j < cl; j++) dst[j] = (float)(total[j] * scale);
    }

    /// <summary>Sum of n contiguous floats: SIMD within 4096-element blocks, blocks added in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double RowSum(float* p, long n)
    {
        if (n <= RowBlock) return BlockSum(p, (int)n);
        double sum = 0;
        for (long i = 0; i < n; i += RowBlock)
            sum += BlockSum(p + i, (int)Math.Min(RowBlock, n - i));
        return sum;
    }

    /// <summary>
    /// Sum of n contiguous floats with four independent vector accumulators (TensorPrimitives.Sum
    /// is several times slower for the short rows met here); the lanes and the scalar tail are added in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double BlockSum(float* p, int n)
    {
        int i = 0;
        double sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 64)
        {
            Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (; i <= n - 64; i += 64)
            {
                s0 += Vector512.Load(p + i);
                s1 += Vector512.Load(p + i + 16);
                s2 += Vector512.Load(p + i + 32);
                s3 += Vector512.Load(p + i + 48);
            }
            for (; i <= n - 16; i += 16) s0 += Vector512.Load(p + i);
            (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen((s0 + s1) + (s2 + s3));
            sum = Vector512.Sum(lo + hi);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (; i <= n - 32; i += 32)
            {
                s0 += Vector256.Load(p + i);
                s1 += Vector256.Load(p + i + 8);
                s2 += Vector256.Load(p + i + 16);
                s3 += Vector256.Load(p + i + 24);
            }
            for (; i <= n - 8; i += 8) s0 += Vector256.Load(p + i);
            (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen((s0 + s1) + (s2 + s3));
            sum = Vector256.Sum(lo + hi);
        }
        for (; i < n; i++) sum += p[i];
        return sum;
    }

    /// <summary>The outer axes (all but the innermost) that are kept or reduced, plus a trailing dummy axis.</summary>
    private static (long[] Dims, long[] Xs, long[] Ys, int Rank) Select(long[] dims, long[] xs, long[] ys, int rank, bool keep)
    {
        var d = new List<long>();
        var x = new List<long>();
        var y = new List<long>();
        for (int i = 0; i < rank - 1; i++)
        {
            if ((ys[i] != 0) != keep) continue;
            d.Add(dims[i]);
            x.Add(xs[i]);
            y.Add(ys[i]);
        }
        int n = d.Count;
        d.Add(1);
        x.Add(0);
        y.Add(0);
        return (d.ToArray(), x.ToArray(), y.ToArray(), n);
    }

    private static long Product(long[] dims, int rank)
    {
        long p = 1;
        for (int i = 0; i < rank; i++) p *= dims[i];
        return p;
    }
}
