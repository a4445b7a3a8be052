using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MaMA.Kernels.Random;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Fast CPU pieces of the LoRA linear y = x W + b + s * dropout(x) A^T B^T (the base GEMM is
/// <see cref="Linear.Sgemm"/>). Every function is one sweep over the big operand (x or dy) that
/// computes all the low-rank terms that need it, SIMD over the long axis, rows across cores:
/// <list type="bullet">
///   <item><see cref="Project"/>: u = dropout(x) A^T [m, r], reading x once (mask regenerated per row).</item>
///   <item><see cref="InitOutput"/>: y = b + s * u B^T, the epilogue written before the base GEMM
///         accumulates x W into y (Sgemm with beta = 1), so y is never re-read for the bias or the update.</item>
///   <item><see cref="BackwardOutput"/>: one sweep over dy for du = s * dy B, dB = s * dy^T u and db = sum_rows dy.</item>
///   <item><see cref="BackwardInput"/>: one sweep over x for dA = du^T dropout(x) and the low-rank part of
///         dx, mask * (du A), written before the base GEMM accumulates dy W^T into dx.</item>
/// </list>
/// Column reductions (dB, db, dA) accumulate per-chunk partials over a fixed number of row chunks
/// (independent of the core count, so results are the same on every machine), rank-1 updates
/// blocked four rows at a time, then summed in chunk order.
/// </summary>
public static unsafe class LoraSimd
{
    private const int MaxChunks = 16;
    private const int MinRowsPerChunk = 32;

    private static bool Wide => Vector512.IsHardwareAccelerated;

    /// <summary>u[row, t] = sum_k dropout(x)[row, k] a[t, k]; x [m, inF], a [r, inF], u [m, r], all contiguous.</summary>
    public static void Project(int m, int inF, int r, float* x, float* a, float* u, PhiloxDropout dropout)
    {
        if (m <= 0 || r <= 0) return;
        nint px = (nint)x, pa = (nint)a, pu = (nint)u;
        CpuParallel.For(m, CpuParallel.ChunkFor((long)inF * r), (first, count) =>
        {
            float* buffer = dropout.Active ? Alloc(inF, "LoraSimd dropout row") : null;
            try
            {
                for (long row = first; row < first + count; row++)
                {
                    float* xr = (float*)px + row * inF;
                    if (dropout.Active)
                    {
                        Masked(xr, row * inF, inF, dropout, buffer);
                        xr = buffer;
                    }
                    DotRows(xr, (float*)pa, inF, r, (float*)pu + row * r, 1f);
                }
            }
            finally
            {
                if (buffer != null) NativeMemory.AlignedFree(buffer);
            }
        });
    }

    /// <summary>y[row, :] = bias + scaling * sum_t u[row, t] bT[t, :]; u [m, r], bT [r, outF] (B transposed), bias [outF] or null.</summary>
    public static void InitOutput(int m, int outF, int r, float* u, float* bT, float* bias, float scaling, float* y)
    {
        if (m <= 0 || outF <= 0) return;
        nint pu = (nint)u, pb = (nint)bT, pbias = (nint)bias, py = (nint)y;
        CpuParallel.For(m, CpuParallel.ChunkFor((long)outF * Math.Max(1, r)), (first, count) =>
        {
            float* coef = stackalloc float[Math.Max(1, r)];
            for (long row = first; row < first + count; row++)
            {
                for (int t = 0; t < r; t++) coef[t] = scaling * ((float*)pu)[row * r + t];
                float* yr = (float*)py + row * outF;
                if (Wide) Combine<V512>(coef, (float*)pb, r, outF, (float*)pbias, yr);
                else Combine<V256>(coef, (float*)pb, r, outF, (float*)pbias, yr);
            }
        });
    }

    /// <summary>
    /// One sweep over dy [m, outF]: du[row, t] = scaling * dy[row, :] . bT[t, :] (when du is not null),
    /// dbT[t, j] = scaling * sum_row u[row, t] dy[row, j] (B's gradient transposed, [r, outF], when not
    /// null), dbias[j] = sum_row dy[row, j] (when not null).
    /// </summary>
    public static void BackwardOutput(int m, int outF, int r, float* dy, float* bT, float* u, float scaling, float* du, float* dbT, float* dbias)
    {
        if (m <= 0)
        {
            if (dbT != null) new Span<float>(dbT, r * outF).Clear();
            if (dbias != null) new Span<float>(dbias, outF).Clear();
            return;
        }
        int chunks = Chunks(m);
        int rowsPer = (m + chunks - 1) / chunks;
        long bSize = (long)r * outF;
        float* partB = null, partBias = null;
        try
        {
            if (dbT != null) partB = Alloc(chunks * bSize, "LoraSimd dB partials");
            if (dbias != null) partBias = Alloc((long)chunks * outF, "LoraSimd dbias partials");
            nint pdy = (nint)dy, pbT = (nint)bT, pu = (nint)u, pdu = (nint)du, ppB = (nint)partB, ppBias = (nint)partBias;
            Run(chunks, c =>
            {
                int r0 = c * rowsPer, r1 = Math.Min(m, r0 + rowsPer);
                float* pB = ppB == 0 ? null : (float*)ppB + c * bSize;
                float* pBias = ppBias == 0 ? null : (float*)ppBias + (long)c * outF;
                if (pB != null) new Span<float>(pB, (int)bSize).Clear();
                if (pBias != null) new Span<float>(pBias, outF).Clear();
                // Groups of four rows: each row's dot products and bias sum, then the group's rank-1
                // updates of the dB partial, while the rows are still in cache.
                for (int g0 = r0; g0 < r1; g0 += 4)
                {
                    int g1 = Math.Min(r1, g0 + 4);
                    for (int row = g0; row < g1; row++)
                    {
                        float* d = (float*)pdy + (long)row * outF;
                        if (pdu != 0) DotRows(d, (float*)pbT, outF, r, (float*)pdu + (long)row * r, scaling);
                        if (pBias != null) Add(pBias, d, outF);
                    }
                    if (pB != null) OuterAccumulate(pB, r, outF, (float*)pu, r, (float*)pdy, outF, g0, g1);
                }
            });
            if (dbT != null) ReducePartials(partB, chunks, bSize, scaling, dbT);
            if (dbias != null) ReducePartials(partBias, chunks, outF, 1f, dbias);
        }
        finally
        {
            if (partB != null) NativeMemory.AlignedFree(partB);
            if (partBias != null) NativeMemory.AlignedFree(partBias);
        }
    }

    /// <summary>
    /// One sweep over x [m, inF] with du [m, r] (already scaled): dx[row, k] = mask(row, k) * sum_t du[row, t] a[t, k]
    /// (when dx is not null: the low-rank part, before the base GEMM adds dy W^T) and
    /// da[t, k] = sum_row du[row, t] dropout(x)[row, k] (when da is not null).
    /// </summary>
    public static void BackwardInput(int m, int inF, int r, float* x, float* a, float* du, PhiloxDropout dropout, float* dx, float* da)
    {
        long aSize = (long)r * inF;
        if (m <= 0)
        {
            if (da != null) new Span<float>(da, (int)aSize).Clear();
            return;
        }
        int chunks = Chunks(m);
        int rowsPer = (m + chunks - 1) / chunks;
        float* partA = null;
        try
        {
            if (da != null) partA = Alloc(chunks * aSize, "LoraSimd dA partials");
            nint px = (nint)x, pa = (nint)a, pdu = (nint)du, pdx = (nint)dx, ppA = (nint)partA;
            Run(chunks, c =>
            {
                int r0 = c * rowsPer, r1 = Math.Min(m, r0 + rowsPer);
                float* pA = ppA == 0 ? null : (float*)ppA + c * aSize;
                // Groups of four rows. With dropout the mask is drawn once per row for both terms, and
                // with dA the group's masked rows go to a small buffer for its rank-1 updates.
                bool masked = dropout.Active;
                float* mask = null, xd = null;
                try
                {
                    if (masked) mask = Alloc(inF, "LoraSimd dropout mask");
                    if (masked && pA != null) xd = Alloc(4L * inF, "LoraSimd masked rows");
                    if (pA != null) new Span<float>(pA, (int)aSize).Clear();
                    for (int g0 = r0; g0 < r1; g0 += 4)
                    {
                        int g1 = Math.Min(r1, g0 + 4);
                        for (int row = g0; row < g1; row++)
                        {
                            if (masked) dropout.Fill((long)row * inF, inF, mask);
                            if (pdx != 0)
                            {
                                float* dxr = (float*)pdx + (long)row * inF;
                                if (Wide) Combine<V512>((float*)pdu + (long)row * r, (float*)pa, r, inF, null, dxr);
                                else Combine<V256>((float*)pdu + (long)row * r, (float*)pa, r, inF, null, dxr);
                                if (masked) Multiply(dxr, mask, inF);
                            }
                            if (xd != null)
                            {
                                float* xr = (float*)px + (long)row * inF;
                                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(xr, inF), new ReadOnlySpan<float>(mask, inF),
                                    new Span<float>(xd + (long)(row - g0) * inF, inF));
                            }
                        }
                        if (pA != null)
                        {
                            if (xd != null) OuterAccumulate(pA, r, inF, (float*)pdu, r, xd - (long)g0 * inF, inF, g0, g1);
                            else OuterAccumulate(pA, r, inF, (float*)pdu, r, (float*)px, inF, g0, g1);
                        }
                    }
                }
                finally
                {
                    if (mask != null) NativeMemory.AlignedFree(mask);
                    if (xd != null) NativeMemory.AlignedFree(xd);
                }
            });
            if (da != null) ReducePartials(partA, chunks, aSize, 1f, da);
        }
        finally
        {
            if (partA != null) NativeMemory.AlignedFree(partA);
        }
    }

    /// <summary>dst [cols, rows] = src [rows, cols] transposed (small operands: B and its gradient).</summary>
    public static void Transpose(int rows, int cols, float* src, float* dst)
    {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                dst[(long)j * rows + i] = src[(long)i * cols + j];
    }

    // ---- pieces ----

    private static int Chunks(int m) => Math.Clamp((m + MinRowsPerChunk - 1) / MinRowsPerChunk, 1, MaxChunks);

    private static float* Alloc(long floats, string name) => (float*)ScratchMemory.AlignedAlloc(Math.Max(1, floats) * sizeof(float), 64, name);

    private static void Run(int items, Action<int> body)
    {
        if (items == 1 || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < items; i++) body(i);
            return;
        }
        try
        {
            Parallel.For(0, items, body);
        }
        catch (AggregateException e) when (CpuParallel.IsOutOfMemory(e))
        {
            CpuParallel.ThrowOutOfMemory(e);
        }
    }

    /// <summary>dst = x * dropout factors of elements e0.. (n of them).</summary>
    private static void Masked(float* x, long e0, int n, PhiloxDropout dropout, float* dst)
    {
        dropout.Fill(e0, n, dst);
        Multiply(dst, x, n);
    }

    private static void Multiply(float* y, float* factor, int n) =>
        System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(y, n), new ReadOnlySpan<float>(factor, n), new Span<float>(y, n));

    private static void Add(float* y, float* x, int n) =>
        System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(y, n), new ReadOnlySpan<float>(x, n), new Span<float>(y, n));

    /// <summary>dst[c] = alpha * sum over chunks of parts[chunk * size + c], chunks in order.</summary>
    private static void ReducePartials(float* parts, int chunks, long size, float alpha, float* dst)
    {
        var d = new Span<float>(dst, (int)size);
        new ReadOnlySpan<float>(parts, (int)size).CopyTo(d);
        for (int c = 1; c < chunks; c++)
            System.Numerics.Tensors.TensorPrimitives.Add(d, new ReadOnlySpan<float>(parts + c * size, (int)size), d);
        if (alpha != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(d, alpha, d);
    }

    /// <summary>out[t] = alpha * (v . rows[t, :]) for t &lt; r; v [n], rows [r, n] contiguous.</summary>
    private static void DotRows(float* v, float* rows, int n, int r, float* output, float alpha)
    {
        float* sums = stackalloc float[4];
        for (int t = 0; t < r; t += 4)
        {
            int c = Math.Min(4, r - t);
            float* r0 = rows + (long)t * n;
            float* r1 = c > 1 ? r0 + n : r0;
            float* r2 = c > 2 ? r0 + 2L * n : r0;
            float* r3 = c > 3 ? r0 + 3L * n : r0;
            if (Wide) Dot4<V512>(v, r0, r1, r2, r3, n, sums);
            else Dot4<V256>(v, r0, r1, r2, r3, n, sums);
            for (int q = 0; q < c; q++) output[t + q] = alpha * sums[q];
        }
    }

    /// <summary>sums[q] = v . rq over n elements, four dot products per sweep over v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4<TV>(float* v, float* r0, float* r1, float* r2, float* r3, int n, float* sums) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        TV a0 = TV.Splat(0f), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k <= n - w; k += w)
        {
            TV x = TV.Load(v + k);
            a0 = TV.Fma(x, TV.Load(r0 + k), a0);
            a1 = TV.Fma(x, TV.Load(r1 + k), a1);
            a2 = TV.Fma(x, TV.Load(r2 + k), a2);
            a3 = TV.Fma(x, TV.Load(r3 + k), a3);
        }
        sums[0] = HorizontalSum(a0);
        sums[1] = HorizontalSum(a1);
        sums[2] = HorizontalSum(a2);
        sums[3] = HorizontalSum(a3);
        for (; k < n; k++)
        {
            float x = v[k];
            sums[0] = MathF.FusedMultiplyAdd(x, r0[k], sums[0]);
            sums[1] = MathF.FusedMultiplyAdd(x, r1[k], sums[1]);
            sums[2] = MathF.FusedMultiplyAdd(x, r2[k], sums[2]);
            sums[3] = MathF.FusedMultiplyAdd(x, r3[k], sums[3]);
        }
    }

    private static float HorizontalSum<TV>(TV v) where TV : unmanaged, ISimd<TV>
    {
        float* lanes = stackalloc float[TV.Count];
        TV.Store(v, lanes);
        float s = 0f;
        for (int i = 0; i < TV.Count; i++) s += lanes[i];
        return s;
    }

    /// <summary>y[:n] = (bias or 0) + sum_t coef[t] rows[t, :]; rows [r, n] contiguous.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Combine<TV>(float* coef, float* rows, int r, int n, float* bias, float* y) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        int k = 0;
        for (; k <= n - w; k += w)
        {
            TV acc = bias != null ? TV.Load(bias + k) : TV.Splat(0f);
            for (int t = 0; t < r; t++) acc = TV.Fma(TV.Splat(coef[t]), TV.Load(rows + (long)t * n + k), acc);
            TV.Store(acc, y + k);
        }
        for (; k < n; k++)
        {
            float acc = bias != null ? bias[k] : 0f;
            for (int t = 0; t < r; t++) acc = MathF.FusedMultiplyAdd(coef[t], rows[(long)t * n + k], acc);
            y[k] = acc;
        }
    }

    /// <summary>
    /// p[t, :] += sum_{row in [r0, r1)} coef[row * coefStride + t] * data[row * dataStride + :] for t &lt; r;
    /// p [r, n] contiguous. Four rows per pass, so each p vector is loaded and stored once per four rows.
    /// </summary>
    private static void OuterAccumulate(float* p, int r, int n, float* coef, int coefStride, float* data, long dataStride, int r0, int r1)
    {
        float* c4 = stackalloc float[4 * Math.Max(1, r)];
        int row = r0;
        for (; row + 4 <= r1; row += 4)
        {
            // c4[t * 4 + q] = coefficient of row + q for output row t.
            for (int t = 0; t < r; t++)
                for (int q = 0; q < 4; q++) c4[t * 4 + q] = coef[(long)(row + q) * coefStride + t];
            float* d0 = data + (long)row * dataStride;
            if (Wide) Outer4<V512>(p, r, n, c4, d0, d0 + dataStride, d0 + 2 * dataStride, d0 + 3 * dataStride);
            else Outer4<V256>(p, r, n, c4, d0, d0 + dataStride, d0 + 2 * dataStride, d0 + 3 * dataStride);
        }
        for (; row < r1; row++)
        {
            for (int t = 0; t < r; t++) c4[t] = coef[(long)row * coefStride + t];
            float* d = data + (long)row * dataStride;
            if (Wide) Outer1<V512>(p, r, n, c4, d);
            else Outer1<V256>(p, r, n, c4, d);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer4<TV>(float* p, int r, int n, float* c4, float* d0, float* d1, float* d2, float* d3) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        int k = 0;
        for (; k <= n - w; k += w)
        {
            TV x0 = TV.Load(d0 + k), x1 = TV.Load(d1 + k), x2 = TV.Load(d2 + k), x3 = TV.Load(d3 + k);
            float* pk = p + k;
            for (int t = 0; t < r; t++, pk += n)
            {
                float* c = c4 + t * 4;
                TV acc = TV.Load(pk);
                acc = TV.Fma(TV.Splat(c[0]), x0, acc);
                acc = TV.Fma(TV.Splat(c[1]), x1, acc);
                acc = TV.Fma(TV.Splat(c[2]), x2, acc);
                acc = TV.Fma(TV.Splat(c[3]), x3, acc);
                TV.Store(acc, pk);
            }
        }
        for (; k < n; k++)
        {
            for (int t = 0; t < r; t++)
            {
                float* c = c4 + t * 4;
                float acc = p[(long)t * n + k];
                acc = MathF.FusedMultiplyAdd(c[0], d0[k], acc);
                acc = MathF.FusedMultiplyAdd(c[1], d1[k], acc);
                acc = MathF.FusedMultiplyAdd(c[2], d2[k], acc);
                acc = MathF.FusedMultiplyAdd(c[3], d3[k], acc);
                p[(long)t * n + k] = acc;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer1<TV>(float* p, int r, int n, float* c, float* d) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        int k = 0;
        for (; k <= n - w; k += w)
        {
            TV x = TV.Load(d + k);
            float* pk = p + k;
            for (int t = 0; t < r; t++, pk += n) TV.Store(TV.Fma(TV.Splat(c[t]), x, TV.Load(pk)), pk);
        }
        for (; k < n; k++)
            for (int t = 0; t < r; t++) p[(long)t * n + k] = MathF.FusedMultiplyAdd(c[t], d[k], p[(long)t * n + k]);
    }
}
