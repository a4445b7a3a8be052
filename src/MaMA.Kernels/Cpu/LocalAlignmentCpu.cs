using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MaMA.Kernels.LocalAlignment;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Fast CPU path of Symmetric Local Alignment (same layouts and results as
/// <see cref="LocalAlignment.SlaScores"/>): patches [N, P, E], packed sentences [R, E] with
/// int32 offsets [N + 1], scores [2, N, N] (t2i then i2t, rows reports, columns images),
/// argP [N, R] (patch chosen by image n for sentence row r) and argS [N, P, N] (local sentence
/// chosen by patch p of image n within report m).
/// <para>
/// Forward: work items are (image n, a run of patch blocks). A block is 2 SIMD vectors of patches
/// (32 with AVX-512, 16 with AVX2), packed transposed into a [E, block] panel, so a register tile
/// (8 sentence rows x 32 patches, or 6 x 16) accumulates dot products with the patches in the
/// lanes. The block's similarities against all R sentence rows ([R, block], a few tens of KiB)
/// are reduced at once, lane-parallel: per sentence row a running max / argmax over patches
/// (t2i), per report a max / argmax over its sentences (i2t, summed into the item's partial
/// i2t). Nothing larger than one block's similarities exists; partial results per item are
/// merged in patch order, so ties keep the first index.
/// </para>
/// <para>
/// Backward: the selections make the similarity gradient sparse: N*N*(P + S) entries. Work items
/// are column chunks of E (8 vectors wide with AVX-512, 4 with AVX2, so a patch row chunk and its gradient stay in
/// registers while the N selected sentence rows are gathered and the N sentence gradients are
/// updated), which keeps every write private to its item; with few chunks for many cores, images
/// are also split into groups that accumulate sentence gradients into private buffers.
/// </para>
/// </summary>
public static unsafe class LocalAlignmentCpu
{
    /// <summary>Patch blocks per forward work item (at most).</summary>
    private const int BlocksPerItem = 8;

    /// <summary>Computes scores, argP and argS; <paramref name="wide"/> forces 512-bit (true) or 256-bit (false) vectors.</summary>
    public static void Forward(int n, int p, int r, int e, float* patches, float* sentences, int* offsets, float* scores, int* argP, int* argS, bool? wide = null)
    {
        if (n <= 0 || p <= 0 || r <= 0) throw new ArgumentException("sla: N, P and R must be positive.");
        if (wide ?? Vector512.IsHardwareAccelerated) Forward<V512>(n, p, r, e, patches, sentences, offsets, scores, argP, argS);
        else Forward<V256>(n, p, r, e, patches, sentences, offsets, scores, argP, argS);
    }

    /// <summary>
    /// Gradients from gScores (d scores, [2, N, N]) into dPatches [N, P, E] and dSentences [R, E]
    /// (both overwritten).
    /// </summary>
    public static void Backward(int n, int p, int r, int e, float* patches, float* sentences, int* offsets, int* argP, int* argS, float* gScores,
        float* dPatches, float* dSentences, bool? wide = null)
    {
        if (n <= 0 || p <= 0 || r <= 0) throw new ArgumentException("sla: N, P and R must be positive.");
        if (wide ?? Vector512.IsHardwareAccelerated) Backward<V512>(n, p, r, e, patches, sentences, offsets, argP, argS, gScores, dPatches, dSentences);
        else Backward<V256>(n, p, r, e, patches, sentences, offsets, argP, argS, gScores, dPatches, dSentences);
    }

    private static void Forward<V>(int n, int p, int r, int e, float* patches, float* sentences, int* offsets, float* scores, int* argP, int* argS)
        where V : unmanaged, ISimd<V>
    {
        int lanes = 2 * V.Count;
        int tileRows = V.Count == 16 ? 8 : 6;
        int blocks = (p + lanes - 1) / lanes;
        int perItem = Math.Clamp((int)((long)n * blocks / (4L * Environment.ProcessorCount)), 1, BlocksPerItem);
        int itemsPerImage = (blocks + perItem - 1) / perItem;
        int items = n * itemsPerImage;
        int rPad = (r + tileRows - 1) / tileRows * tileRows;

        // Per item: running column max / argmax over its patches, and its i2t partial sums.
        // (Null until allocated: NativeMemory.Free(null) does nothing, so a failed request frees the others.)
        float* colMaxPart = null, i2tPart = null;
        int* colArgPart = null;
        try
        {
            colMaxPart = (float*)ScratchMemory.Alloc((long)items * r, sizeof(float), "LocalAlignmentCpu column max partials");
            colArgPart = (int*)ScratchMemory.Alloc((long)items * r, sizeof(int), "LocalAlignmentCpu column argmax partials");
            i2tPart = (float*)ScratchMemory.Alloc((long)items * n, sizeof(float), "LocalAlignmentCpu i2t partials");
            // Scratch per thread: panel [E, lanes], similarities [rPad, lanes], running column
            // max and argmax [R, lanes], i2t sums [N, lanes], lane indices and one staging row.
            long panelFloats = (long)e * lanes, ctFloats = (long)rPad * lanes, runFloats = (long)r * lanes, i2tFloats = (long)n * lanes;
            long scratchFloats = panelFloats + ctFloats + 2 * runFloats + i2tFloats + 2L * lanes;
            var job = new ForwardJob
            {
                N = n, P = p, R = r, E = e, Patches = patches, Sentences = sentences, Offsets = offsets, ArgS = argS,
                Lanes = lanes, TileRows = tileRows, Blocks = blocks, PerItem = perItem, ItemsPerImage = itemsPerImage, RPad = rPad,
                ColMaxPart = colMaxPart, ColArgPart = colArgPart, I2tPart = i2tPart,
                PanelFloats = panelFloats, CtFloats = ctFloats, RunFloats = runFloats, I2tFloats = i2tFloats,
            };
            long scratchBytes = scratchFloats * sizeof(float);
            if (items == 1 || Environment.ProcessorCount == 1)
            {
                float* scratch = (float*)ScratchMemory.AlignedAlloc(scratchBytes, 64, "LocalAlignmentCpu forward");
                try
                {
                    for (int item = 0; item < items; item++) job.Run<V>(item, scratch);
                }
                finally
                {
                    NativeMemory.AlignedFree(scratch);
                }
            }
            else
            {
                try
                {
                    Parallel.For(0, items,
                        () => (nint)ScratchMemory.AlignedAlloc(scratchBytes, 64, "LocalAlignmentCpu forward"),
                        (item, _, scratch) =>
                        {
                            job.Run<V>(item, (float*)scratch);
                            return scratch;
                        },
                        scratch => NativeMemory.AlignedFree((void*)scratch));
                }
                catch (AggregateException failure) when (CpuParallel.IsOutOfMemory(failure))
                {
                    CpuParallel.ThrowOutOfMemory(failure);
                }
            }

            // Merge the items of each image in patch order (SlaMax.Beats keeps the first maximum, and the first NaN).
            float* colMax = (float*)ScratchMemory.Alloc(r, sizeof(float), "LocalAlignmentCpu merged column max");
            try
            {
                for (int img = 0; img < n; img++)
                {
                    long first = (long)img * itemsPerImage;
                    for (int row = 0; row < r; row++)
                    {
                        float best = colMaxPart[first * r + row];
                        int arg = colArgPart[first * r + row];
                        for (int g = 1; g < itemsPerImage; g++)
                        {
                            float v = colMaxPart[(first + g) * r + row];
                            if (SlaMax.Beats(v, best))
                            {
                                best = v;
                                arg = colArgPart[(first + g) * r + row];
                            }
                        }
                        colMax[row] = best;
                        argP[(long)img * r + row] = arg;
                    }
                    for (int m = 0; m < n; m++)
                    {
                        int start = offsets[m], end = offsets[m + 1];
                        float t2i = 0f;
                        for (int row = start; row < end; row++) t2i += colMax[row];
                        float i2t = 0f;
                        for (int g = 0; g < itemsPerImage; g++) i2t += i2tPart[(first + g) * n + m];
                        scores[m * n + img] = t2i / (end - start);
                        scores[n * n + m * n + img] = i2t / p;
                    }
                }
            }
            finally
            {
                NativeMemory.Free(colMax);
            }
        }
        finally
        {
            NativeMemory.Free(colMaxPart);
            NativeMemory.Free(colArgPart);
            NativeMemory.Free(i2tPart);
        }
    }

    private struct ForwardJob
    {
        public int N, P, R, E, Lanes, TileRows, Blocks, PerItem, ItemsPerImage, RPad;
        public float* Patches, Sentences, ColMaxPart, I2tPart;
        public int* Offsets, ArgS, ColArgPart;
        public long PanelFloats, CtFloats, RunFloats, I2tFloats;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run<V>(int item, float* scratch) where V : unmanaged, ISimd<V>
        {
            int vc = V.Count;
            float* panel = scratch;
            float* ct = panel + PanelFloats;
            float* colRun = ct + CtFloats;
            float* colArg = colRun + RunFloats;
            float* i2tVec = colArg + RunFloats;
            float* laneIndex = i2tVec + I2tFloats;
            float* stage = laneIndex + Lanes;

            int img = item / ItemsPerImage, group = item - img * ItemsPerImage;
            int b0 = group * PerItem, b1 = Math.Min(Blocks, b0 + PerItem);
            new Span<float>(colRun, checked((int)RunFloats)).Fill(float.NegativeInfinity);
            new Span<float>(colArg, checked((int)RunFloats)).Clear();
            new Span<float>(i2tVec, checked((int)I2tFloats)).Clear();
            for (int j = 0; j < Lanes; j++) laneIndex[j] = j;

            float* imagePatches = Patches + (long)img * P * E;
            V negInf = V.Splat(float.NegativeInfinity), zero = V.Splat(0f), yes = V.GreaterThanOrEqual(zero, zero);
            V lane0 = V.Load(laneIndex), lane1 = V.Load(laneIndex + vc);
            for (int b = b0; b < b1; b++)
            {
                int p0 = b * Lanes;
                int valid = Math.Min(Lanes, P - p0);
                Pack(imagePatches + (long)p0 * E, valid, E, Lanes, panel);
                for (int t = 0; t < RPad; t += TileRows)
                {
                    if (TileRows == 8) Tile8(t, R, E, Sentences, panel, ct + (long)t * Lanes, Lanes);
                    else Tile6(t, R, E, Sentences, panel, ct + (long)t * Lanes, Lanes);
                }

                V validCount = V.Splat(valid);
                V valid0 = V.GreaterThan(validCount, lane0), valid1 = V.GreaterThan(validCount, lane1);
                V patch0 = lane0 + V.Splat(p0), patch1 = lane1 + V.Splat(p0);
                for (int m = 0; m < N; m++)
                {
                    int start = Offsets[m], end = Offsets[m + 1];
                    V best0 = negInf, best1 = negInf, arg0 = zero, arg1 = zero;
                    for (int row = start; row < end; row++)
                    {
                        float* c = ct + (long)row * Lanes;
                        V v0 = V.Select(valid0, V.Load(c), negInf), v1 = V.Select(valid1, V.Load(c + vc), negInf);

                        // t2i: running max over patches for this sentence row.
                        float* run = colRun + (long)row * Lanes;
                        float* runArg = colArg + (long)row * Lanes;
                        V r0 = V.Load(run), r1 = V.Load(run + vc);
                        V up0 = Beats(v0, r0, yes), up1 = Beats(v1, r1, yes);
                        V.Store(V.Select(up0, v0, r0), run);
                        V.Store(V.Select(up1, v1, r1), run + vc);
                        V.Store(V.Select(up0, patch0, V.Load(runArg)), runArg);
                        V.Store(V.Select(up1, patch1, V.Load(runArg + vc)), runArg + vc);

                        // i2t: max over this report's sentences, per patch lane.
                        V s = V.Splat(row - start);
                        V h0 = Beats(v0, best0, yes), h1 = Beats(v1, best1, yes);
                        best0 = V.Select(h0, v0, best0);
                        best1 = V.Select(h1, v1, best1);
                        arg0 = V.Select(h0, s, arg0);
                        arg1 = V.Select(h1, s, arg1);
                    }
                    float* sum = i2tVec + (long)m * Lanes;
                    V.Store(V.Load(sum) + V.Select(valid0, best0, zero), sum);
                    V.Store(V.Load(sum + vc) + V.Select(valid1, best1, zero), sum + vc);
                    V.Store(arg0, stage);
                    V.Store(arg1, stage + vc);
                    int* dst = ArgS + ((long)img * P + p0) * N + m;
                    for (int j = 0; j < valid; j++) dst[(long)j * N] = (int)stage[j];
                }
            }

            // Horizontal reductions: best lane per sentence row (ties, of values or of NaN: smallest patch index).
            long partBase = (long)item * R;
            for (int row = 0; row < R; row++)
            {
                float* run = colRun + (long)row * Lanes;
                float* runArg = colArg + (long)row * Lanes;
                float best = run[0], arg = runArg[0];
                for (int j = 1; j < Lanes; j++)
                {
                    float v = run[j];
                    if (SlaMax.Beats(v, (int)runArg[j], best, (int)arg))
                    {
                        best = v;
                        arg = runArg[j];
                    }
                }
                ColMaxPart[partBase + row] = best;
                ColArgPart[partBase + row] = (int)arg;
            }
            for (int m = 0; m < N; m++)
            {
                float* sum = i2tVec + (long)m * Lanes;
                float total = 0f;
                for (int j = 0; j < Lanes; j++) total += sum[j];
                I2tPart[(long)item * N + m] = total;
            }
        }
    }

    /// <summary>
    /// <see cref="SlaMax.Beats(float, float)"/> per lane: v &gt; best, or v NaN where best is not.
    /// <paramref name="yes"/> is the all-true mask; x &gt;= x is false only for NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V Beats<V>(V v, V best, V yes) where V : unmanaged, ISimd<V> =>
        V.Select(V.GreaterThanOrEqual(best, best), V.Select(V.GreaterThanOrEqual(v, v), V.GreaterThan(v, best), yes), V.Splat(0f));

    /// <summary>
    /// panel[k, j] = rows[j, k] for the valid rows, zero for the padding lanes. With AVX, 8 x 8
    /// blocks are transposed in registers (8 loads, 24 shuffles, 8 stores); the rest is scalar.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pack(float* rows, int valid, int e, int lanes, float* panel)
    {
        if (valid < lanes)
            for (int k = 0; k < e; k++)
                new Span<float>(panel + (long)k * lanes + valid, lanes - valid).Clear();
        int j = 0, kBlocks = Avx.IsSupported ? e / 8 * 8 : 0;
        for (; j + 8 <= valid && kBlocks > 0; j += 8)
        {
            float* src = rows + (long)j * e;
            for (int k = 0; k < kBlocks; k += 8) BlockTranspose.Transpose8x8(src + k, e, panel + (long)k * lanes + j, lanes);
            for (int k = kBlocks; k < e; k++)
                for (int i = 0; i < 8; i++) panel[(long)k * lanes + j + i] = src[(long)i * e + k];
        }
        for (; j < valid; j++)
        {
            float* src = rows + (long)j * e;
            float* dst = panel + j;
            for (int k = 0; k < e; k++) dst[(long)k * lanes] = src[k];
        }
    }

    /// <summary>
    /// ct[i, :] = sentences[t + i] . panel for 8 sentence rows and 2 x 16 patches (AVX-512: 16
    /// accumulators). Rows past R repeat the last one; their results land in the padding of ct.
    /// Written on Vector512 itself rather than <see cref="ISimd{TSelf}"/> so that it is fast in
    /// Debug builds too (intrinsics expand there, wrapper calls would not inline).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8(int t, int r, int e, float* sentences, float* panel, float* ct, int lanes)
    {
        float* q0 = Row(sentences, t, r, e), q1 = Row(sentences, t + 1, r, e), q2 = Row(sentences, t + 2, r, e), q3 = Row(sentences, t + 3, r, e);
        float* q4 = Row(sentences, t + 4, r, e), q5 = Row(sentences, t + 5, r, e), q6 = Row(sentences, t + 6, r, e), q7 = Row(sentences, t + 7, r, e);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* b = panel;
        for (int k = 0; k < e; k++, b += lanes)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> a = Vector512.Create(q0[k]);
            c00 = Vector512.FusedMultiplyAdd(a, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(q1[k]);
            c10 = Vector512.FusedMultiplyAdd(a, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(q2[k]);
            c20 = Vector512.FusedMultiplyAdd(a, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(q3[k]);
            c30 = Vector512.FusedMultiplyAdd(a, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(q4[k]);
            c40 = Vector512.FusedMultiplyAdd(a, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(q5[k]);
            c50 = Vector512.FusedMultiplyAdd(a, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(q6[k]);
            c60 = Vector512.FusedMultiplyAdd(a, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(q7[k]);
            c70 = Vector512.FusedMultiplyAdd(a, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
        }
        c00.Store(ct);
        c01.Store(ct + 16);
        c10.Store(ct + lanes);
        c11.Store(ct + lanes + 16);
        c20.Store(ct + 2 * lanes);
        c21.Store(ct + 2 * lanes + 16);
        c30.Store(ct + 3 * lanes);
        c31.Store(ct + 3 * lanes + 16);
        c40.Store(ct + 4 * lanes);
        c41.Store(ct + 4 * lanes + 16);
        c50.Store(ct + 5 * lanes);
        c51.Store(ct + 5 * lanes + 16);
        c60.Store(ct + 6 * lanes);
        c61.Store(ct + 6 * lanes + 16);
        c70.Store(ct + 7 * lanes);
        c71.Store(ct + 7 * lanes + 16);
    }

    /// <summary>The 6-row tile of 2 x 8 patches for 16-register (AVX2) machines: 12 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6(int t, int r, int e, float* sentences, float* panel, float* ct, int lanes)
    {
        float* q0 = Row(sentences, t, r, e), q1 = Row(sentences, t + 1, r, e), q2 = Row(sentences, t + 2, r, e);
        float* q3 = Row(sentences, t + 3, r, e), q4 = Row(sentences, t + 4, r, e), q5 = Row(sentences, t + 5, r, e);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* b = panel;
        for (int k = 0; k < e; k++, b += lanes)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            Vector256<float> a = Vector256.Create(q0[k]);
            c00 = Vector256.FusedMultiplyAdd(a, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            a = Vector256.Create(q1[k]);
            c10 = Vector256.FusedMultiplyAdd(a, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            a = Vector256.Create(q2[k]);
            c20 = Vector256.FusedMultiplyAdd(a, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            a = Vector256.Create(q3[k]);
            c30 = Vector256.FusedMultiplyAdd(a, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            a = Vector256.Create(q4[k]);
            c40 = Vector256.FusedMultiplyAdd(a, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(a, b1, c41);
            a = Vector256.Create(q5[k]);
            c50 = Vector256.FusedMultiplyAdd(a, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(a, b1, c51);
        }
        c00.Store(ct);
        c01.Store(ct + 8);
        c10.Store(ct + lanes);
        c11.Store(ct + lanes + 8);
        c20.Store(ct + 2 * lanes);
        c21.Store(ct + 2 * lanes + 8);
        c30.Store(ct + 3 * lanes);
        c31.Store(ct + 3 * lanes + 8);
        c40.Store(ct + 4 * lanes);
        c41.Store(ct + 4 * lanes + 8);
        c50.Store(ct + 5 * lanes);
        c51.Store(ct + 5 * lanes + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Row(float* sentences, int row, int r, int e) => sentences + (long)Math.Min(row, r - 1) * e;

    private static void Backward<V>(int n, int p, int r, int e, float* patches, float* sentences, int* offsets, int* argP, int* argS, float* gScores,
        float* dPatches, float* dSentences) where V : unmanaged, ISimd<V>
    {
        // Coefficients: cI[n, m] = di2t[m, n] / P, cT[n, r] = dt2i[m(r), n] / S_m(r).
        float* cI = null, cT = null, partials = null;
        try
        {
            cI = (float*)ScratchMemory.Alloc((long)n * n, sizeof(float), "LocalAlignmentCpu image coefficients");
            cT = (float*)ScratchMemory.Alloc((long)n * r, sizeof(float), "LocalAlignmentCpu sentence coefficients");
            bool anyI = false;
            for (int img = 0; img < n; img++)
                for (int m = 0; m < n; m++)
                {
                    float c = gScores[n * n + m * n + img] / p;
                    cI[img * n + m] = c;
                    anyI |= c != 0f;
                    int start = offsets[m], end = offsets[m + 1];
                    float t = gScores[m * n + img] / (end - start);
                    for (int row = start; row < end; row++) cT[(long)img * r + row] = t;
                }

            // Column chunks: wide blocks (8 vectors with 32 registers, 4 with 16), then single
            // vectors, then single columns. Wide blocks amortise the per-selection index work.
            var chunks = new List<(int Start, int Kind)>();
            int vc = V.Count, col = 0, unroll = V.Count == 16 ? 8 : 4;
            for (; col + unroll * vc <= e; col += unroll * vc) chunks.Add((col, unroll));
            for (; col + vc <= e; col += vc) chunks.Add((col, 1));
            for (; col < e; col++) chunks.Add((col, 0));
            int groups = chunks.Count == 0 ? 1 : Math.Clamp((2 * Environment.ProcessorCount + chunks.Count - 1) / chunks.Count, 1, n);
            if (groups > 1) partials = (float*)ScratchMemory.Alloc((long)groups * r * e, sizeof(float), "LocalAlignmentCpu sentence gradient partials");

            var job = new BackwardJob
            {
                N = n, P = p, R = r, E = e, Patches = patches, Sentences = sentences, Offsets = offsets, ArgP = argP, ArgS = argS,
                CI = cI, CT = cT, AnyI = anyI, DPatches = dPatches, DSentences = groups > 1 ? partials : dSentences, Groups = groups,
            };
            int items = chunks.Count * groups;
            void RunItem(int item)
            {
                (int start, int kind) = chunks[item % chunks.Count];
                int group = item / chunks.Count;
                if (kind == 0) job.Run<V1>(start, 1, group, unroll: 1);
                else job.Run<V>(start, kind * vc, group, kind);
            }
            if (items <= 1 || Environment.ProcessorCount == 1)
                for (int item = 0; item < items; item++) RunItem(item);
            else
            {
                try
                {
                    Parallel.For(0, items, RunItem);
                }
                catch (AggregateException failure) when (CpuParallel.IsOutOfMemory(failure))
                {
                    CpuParallel.ThrowOutOfMemory(failure);
                }
            }

            if (groups > 1)
            {
                long total = (long)r * e;
                CpuParallel.For(total, CpuParallel.ElementChunk, (start, length) =>
                {
                    var dst = new Span<float>(dSentences + start, (int)length);
                    new ReadOnlySpan<float>(partials + start, (int)length).CopyTo(dst);
                    for (int g = 1; g < groups; g++)
                        System.Numerics.Tensors.TensorPrimitives.Add(dst, new ReadOnlySpan<float>(partials + g * total + start, (int)length), dst);
                });
            }
        }
        finally
        {
            NativeMemory.Free(cI);
            NativeMemory.Free(cT);
            if (partials != null) NativeMemory.Free(partials);
        }
    }

    private struct BackwardJob
    {
        public int N, P, R, E, Groups;
        public float* Patches, Sentences, CI, CT, DPatches, DSentences;
        public int* Offsets, ArgP, ArgS;
        public bool AnyI;

        /// <summary>
        /// Columns [e0, e0 + width) of both gradients for the images of one group. The sentence
        /// rows' chunk and its gradient are copied into a private contiguous buffer ([R, width]
        /// each, the gradient shifted by 64 bytes): gathered rows then sit width * 4 bytes apart
        /// instead of E * 4 (which maps them onto a few cache sets), and the gradient's stores do
        /// not alias the next loads modulo 4 KiB.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run<V>(int e0, int width, int group, int unroll) where V : unmanaged, ISimd<V>
        {
            int vc = V.Count;
            int img0 = (int)((long)group * N / Groups), img1 = (int)((long)(group + 1) * N / Groups);
            long chunkFloats = (long)R * width;
            float* q = (float*)ScratchMemory.AlignedAlloc((2 * chunkFloats + 16) * sizeof(float), 64, "LocalAlignmentCpu backward");
            try
            {
                float* dq = q + chunkFloats + 16;
                for (int row = 0; row < R; row++)
                    new ReadOnlySpan<float>(Sentences + (long)row * E + e0, width).CopyTo(new Span<float>(q + (long)row * width, width));
                new Span<float>(dq, checked((int)chunkFloats)).Clear();
                for (int img = img0; img < img1; img++)
                {
                    float* imagePatches = Patches + (long)img * P * E + e0;
                    float* dImage = DPatches + (long)img * P * E + e0;
                    int* imageArgS = ArgS + (long)img * P * N;
                    float* cI = CI + (long)img * N;
                    if (!AnyI)
                        for (int pp = 0; pp < P; pp++) new Span<float>(dImage + (long)pp * E, width).Clear();
                    else if (unroll == 8)
                        I2t8(width, imagePatches, dImage, q, dq, imageArgS, cI);
                    else if (unroll == 4)
                        I2t4(width, imagePatches, dImage, q, dq, imageArgS, cI);
                    else
                        for (int c = 0; c < width; c += vc) I2t1<V>(width, imagePatches + c, dImage + c, q + c, dq + c, imageArgS, cI);

                    // t2i: each sentence row's chosen patch.
                    float* cT = CT + (long)img * R;
                    int* chosen = ArgP + (long)img * R;
                    for (int row = 0; row < R; row++)
                    {
                        float c = cT[row];
                        if (c == 0f) continue;
                        V cv = V.Splat(c);
                        long patchAt = (long)chosen[row] * E;
                        float* qRow = q + (long)row * width;
                        float* dqRow = dq + (long)row * width;
                        for (int k = 0; k < width; k += vc)
                        {
                            V.Store(V.Fma(cv, V.Load(qRow + k), V.Load(dImage + patchAt + k)), dImage + patchAt + k);
                            V.Store(V.Fma(cv, V.Load(imagePatches + patchAt + k), V.Load(dqRow + k)), dqRow + k);
                        }
                    }
                }
                float* target = DSentences + (Groups > 1 ? (long)group * R * E : 0);
                for (int row = 0; row < R; row++)
                    new ReadOnlySpan<float>(dq + (long)row * width, width).CopyTo(new Span<float>(target + (long)row * E + e0, width));
            }
            finally
            {
                NativeMemory.AlignedFree(q);
            }
        }

        /// <summary>
        /// i2t for one image over 8 x 16 columns (AVX-512): the patch row chunk and its gradient stay
        /// in registers while the N chosen sentence rows (packed, row stride <paramref name="width"/>)
        /// are gathered and their gradients updated. Vector512 itself, for Debug builds' sake.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void I2t8(int width, float* imagePatches, float* dImage, float* q, float* dq, int* imageArgS, float* cI)
        {
            for (int pp = 0; pp < P; pp++)
            {
                float* x = imagePatches + (long)pp * E;
                Vector512<float> x0 = Vector512.Load(x), x1 = Vector512.Load(x + 16), x2 = Vector512.Load(x + 32), x3 = Vector512.Load(x + 48);
                Vector512<float> x4 = Vector512.Load(x + 64), x5 = Vector512.Load(x + 80), x6 = Vector512.Load(x + 96), x7 = Vector512.Load(x + 112);
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                int* args = imageArgS + (long)pp * N;
                for (int m = 0; m < N; m++)
                {
                    Vector512<float> c = Vector512.Create(cI[m]);
                    long at = (long)(Offsets[m] + args[m]) * width;
                    float* g = q + at;
                    float* d = dq + at;
                    a0 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g), a0);
                    a1 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 48), a3);
                    a4 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 64), a4);
                    a5 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 80), a5);
                    a6 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 96), a6);
                    a7 = Vector512.FusedMultiplyAdd(c, Vector512.Load(g + 112), a7);
                    Vector512.FusedMultiplyAdd(c, x0, Vector512.Load(d)).Store(d);
                    Vector512.FusedMultiplyAdd(c, x1, Vector512.Load(d + 16)).Store(d + 16);
                    Vector512.FusedMultiplyAdd(c, x2, Vector512.Load(d + 32)).Store(d + 32);
                    Vector512.FusedMultiplyAdd(c, x3, Vector512.Load(d + 48)).Store(d + 48);
                    Vector512.FusedMultiplyAdd(c, x4, Vector512.Load(d + 64)).Store(d + 64);
                    Vector512.FusedMultiplyAdd(c, x5, Vector512.Load(d + 80)).Store(d + 80);
                    Vector512.FusedMultiplyAdd(c, x6, Vector512.Load(d + 96)).Store(d + 96);
                    Vector512.FusedMultiplyAdd(c, x7, Vector512.Load(d + 112)).Store(d + 112);
                }
                float* y = dImage + (long)pp * E;
                a0.Store(y);
                a1.Store(y + 16);
                a2.Store(y + 32);
                a3.Store(y + 48);
                a4.Store(y + 64);
                a5.Store(y + 80);
                a6.Store(y + 96);
                a7.Store(y + 112);
            }
        }

        /// <summary>i2t for one image over 4 x 8 columns (AVX2, 16 registers), as <see cref="I2t8"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void I2t4(int width, float* imagePatches, float* dImage, float* q, float* dq, int* imageArgS, float* cI)
        {
            for (int pp = 0; pp < P; pp++)
            {
                float* x = imagePatches + (long)pp * E;
                Vector256<float> x0 = Vector256.Load(x), x1 = Vector256.Load(x + 8), x2 = Vector256.Load(x + 16), x3 = Vector256.Load(x + 24);
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                int* args = imageArgS + (long)pp * N;
                for (int m = 0; m < N; m++)
                {
                    Vector256<float> c = Vector256.Create(cI[m]);
                    long at = (long)(Offsets[m] + args[m]) * width;
                    float* g = q + at;
                    float* d = dq + at;
                    a0 = Vector256.FusedMultiplyAdd(c, Vector256.Load(g), a0);
                    a1 = Vector256.FusedMultiplyAdd(c, Vector256.Load(g + 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(c, Vector256.Load(g + 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(c, Vector256.Load(g + 24), a3);
                    Vector256.FusedMultiplyAdd(c, x0, Vector256.Load(d)).Store(d);
                    Vector256.FusedMultiplyAdd(c, x1, Vector256.Load(d + 8)).Store(d + 8);
                    Vector256.FusedMultiplyAdd(c, x2, Vector256.Load(d + 16)).Store(d + 16);
                    Vector256.FusedMultiplyAdd(c, x3, Vector256.Load(d + 24)).Store(d + 24);
                }
                float* y = dImage + (long)pp * E;
                a0.Store(y);
                a1.Store(y + 8);
                a2.Store(y + 16);
                a3.Store(y + 24);
            }
        }

        /// <summary>i2t for one image over one vector of columns (packed sentence rows with row stride <paramref name="width"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void I2t1<V>(int width, float* imagePatches, float* dImage, float* q, float* dq, int* imageArgS, float* cI) where V : unmanaged, ISimd<V>
        {
            for (int pp = 0; pp < P; pp++)
            {
                V x0 = V.Load(imagePatches + (long)pp * E);
                V a0 = V.Splat(0f);
                int* args = imageArgS + (long)pp * N;
                for (int m = 0; m < N; m++)
                {
                    V c = V.Splat(cI[m]);
                    long at = (long)(Offsets[m] + args[m]) * width;
                    a0 = V.Fma(c, V.Load(q + at), a0);
                    V.Store(V.Fma(c, x0, V.Load(dq + at)), dq + at);
                }
                V.Store(a0, dImage + (long)pp * E);
            }
        }
    }
}
