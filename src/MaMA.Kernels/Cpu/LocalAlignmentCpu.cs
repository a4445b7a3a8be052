using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
/// are column chunks of E (4 vectors wide, so a patch row chunk and its gradient stay in
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
        float* colMaxPart = (float*)NativeMemory.Alloc((nuint)((long)items * r), sizeof(float));
        int* colArgPart = (int*)NativeMemory.Alloc((nuint)((long)items * r), sizeof(int));
        float* i2tPart = (float*)NativeMemory.Alloc((nuint)((long)items * n), sizeof(float));
        try
        {
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
            nuint scratchBytes = (nuint)(scratchFloats * sizeof(float));
            if (items == 1 || Environment.ProcessorCount == 1)
            {
                float* scratch = (float*)NativeMemory.AlignedAlloc(scratchBytes, 64);
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
                Parallel.For(0, items,
                    () => (nint)NativeMemory.AlignedAlloc(scratchBytes, 64),
                    (item, _, scratch) =>
                    {
                        job.Run<V>(item, (float*)scratch);
                        return scratch;
                    },
                    scratch => NativeMemory.AlignedFree((void*)scratch));
            }

            // Merge the items of each image in patch order (strict > keeps the first maximum).
            float* colMax = (float*)NativeMemory.Alloc((nuint)r, sizeof(float));
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
                            if (v > best)
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
            V negInf = V.Splat(float.NegativeInfinity), zero = V.Splat(0f);
            V lane0 = V.Load(laneIndex), lane1 = V.Load(laneIndex + vc);
            for (int b = b0; b < b1; b++)
            {
                int p0 = b * Lanes;
                int valid = Math.Min(Lanes, P - p0);
                Pack(imagePatches + (long)p0 * E, valid, E, Lanes, panel);
                for (int t = 0; t < RPad; t += TileRows)
                {
                    if (TileRows == 8) Tile8<V>(t, R, E, Sentences, panel, ct + (long)t * Lanes, Lanes);
                    else Tile6<V>(t, R, E, Sentences, panel, ct + (long)t * Lanes, Lanes);
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
                        V up0 = V.GreaterThan(v0, r0), up1 = V.GreaterThan(v1, r1);
                        V.Store(V.Select(up0, v0, r0), run);
                        V.Store(V.Select(up1, v1, r1), run + vc);
                        V.Store(V.Select(up0, patch0, V.Load(runArg)), runArg);
                        V.Store(V.Select(up1, patch1, V.Load(runArg + vc)), runArg + vc);

                        // i2t: max over this report's sentences, per patch lane.
                        V s = V.Splat(row - start);
                        V h0 = V.GreaterThan(v0, best0), h1 = V.GreaterThan(v1, best1);
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

            // Horizontal reductions: best lane per sentence row (ties: smallest patch index).
            long partBase = (long)item * R;
            for (int row = 0; row < R; row++)
            {
                float* run = colRun + (long)row * Lanes;
                float* runArg = colArg + (long)row * Lanes;
                float best = run[0], arg = runArg[0];
                for (int j = 1; j < Lanes; j++)
                {
                    float v = run[j];
                    if (v > best || (v == best && runArg[j] < arg))
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

    /// <summary>panel[k, j] = rows[j, k] for the valid rows, zero for the padding lanes.</summary>
    private static void Pack(float* rows, int valid, int e, int lanes, float* panel)
    {
        if (valid < lanes)
            for (int k = 0; k < e; k++)
                new Span<float>(panel + (long)k * lanes + valid, lanes - valid).Clear();
        for (int j = 0; j < valid; j++)
        {
            float* src = rows + (long)j * e;
            float* dst = panel + j;
            for (int k = 0; k < e; k++) dst[(long)k * lanes] = src[k];
        }
    }

    /// <summary>
    /// ct[i, :] = sentences[t + i] . panel for 8 sentence rows and 2 vectors of patches (rows past
    /// R repeat the last one; their results land in the padding of ct).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8<V>(int t, int r, int e, float* sentences, float* panel, float* ct, int lanes) where V : unmanaged, ISimd<V>
    {
        int vc = V.Count;
        float* q0 = Row(sentences, t, r, e), q1 = Row(sentences, t + 1, r, e), q2 = Row(sentences, t + 2, r, e), q3 = Row(sentences, t + 3, r, e);
        float* q4 = Row(sentences, t + 4, r, e), q5 = Row(sentences, t + 5, r, e), q6 = Row(sentences, t + 6, r, e), q7 = Row(sentences, t + 7, r, e);
        V z = V.Splat(0f);
        V c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        V c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        float* b = panel;
        for (int k = 0; k < e; k++, b += lanes)
        {
            V b0 = V.Load(b), b1 = V.Load(b + vc);
            V a = V.Splat(q0[k]);
            c00 = V.Fma(a, b0, c00);
            c01 = V.Fma(a, b1, c01);
            a = V.Splat(q1[k]);
            c10 = V.Fma(a, b0, c10);
            c11 = V.Fma(a, b1, c11);
            a = V.Splat(q2[k]);
            c20 = V.Fma(a, b0, c20);
            c21 = V.Fma(a, b1, c21);
            a = V.Splat(q3[k]);
            c30 = V.Fma(a, b0, c30);
            c31 = V.Fma(a, b1, c31);
            a = V.Splat(q4[k]);
            c40 = V.Fma(a, b0, c40);
            c41 = V.Fma(a, b1, c41);
            a = V.Splat(q5[k]);
            c50 = V.Fma(a, b0, c50);
            c51 = V.Fma(a, b1, c51);
            a = V.Splat(q6[k]);
            c60 = V.Fma(a, b0, c60);
            c61 = V.Fma(a, b1, c61);
            a = V.Splat(q7[k]);
            c70 = V.Fma(a, b0, c70);
            c71 = V.Fma(a, b1, c71);
        }
        V.Store(c00, ct);
        V.Store(c01, ct + vc);
        V.Store(c10, ct + lanes);
        V.Store(c11, ct + lanes + vc);
        V.Store(c20, ct + 2 * lanes);
        V.Store(c21, ct + 2 * lanes + vc);
        V.Store(c30, ct + 3 * lanes);
        V.Store(c31, ct + 3 * lanes + vc);
        V.Store(c40, ct + 4 * lanes);
        V.Store(c41, ct + 4 * lanes + vc);
        V.Store(c50, ct + 5 * lanes);
        V.Store(c51, ct + 5 * lanes + vc);
        V.Store(c60, ct + 6 * lanes);
        V.Store(c61, ct + 6 * lanes + vc);
        V.Store(c70, ct + 7 * lanes);
        V.Store(c71, ct + 7 * lanes + vc);
    }

    /// <summary>The 6-row tile for 16-register (AVX2) machines: 12 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6<V>(int t, int r, int e, float* sentences, float* panel, float* ct, int lanes) where V : unmanaged, ISimd<V>
    {
        int vc = V.Count;
        float* q0 = Row(sentences, t, r, e), q1 = Row(sentences, t + 1, r, e), q2 = Row(sentences, t + 2, r, e);
        float* q3 = Row(sentences, t + 3, r, e), q4 = Row(sentences, t + 4, r, e), q5 = Row(sentences, t + 5, r, e);
        V z = V.Splat(0f);
        V c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        float* b = panel;
        for (int k = 0; k < e; k++, b += lanes)
        {
            V b0 = V.Load(b), b1 = V.Load(b + vc);
            V a = V.Splat(q0[k]);
            c00 = V.Fma(a, b0, c00);
            c01 = V.Fma(a, b1, c01);
            a = V.Splat(q1[k]);
            c10 = V.Fma(a, b0, c10);
            c11 = V.Fma(a, b1, c11);
            a = V.Splat(q2[k]);
            c20 = V.Fma(a, b0, c20);
            c21 = V.Fma(a, b1, c21);
            a = V.Splat(q3[k]);
            c30 = V.Fma(a, b0, c30);
            c31 = V.Fma(a, b1, c31);
            a = V.Splat(q4[k]);
            c40 = V.Fma(a, b0, c40);
            c41 = V.Fma(a, b1, c41);
            a = V.Splat(q5[k]);
            c50 = V.Fma(a, b0, c50);
            c51 = V.Fma(a, b1, c51);
        }
        V.Store(c00, ct);
        V.Store(c01, ct + vc);
        V.Store(c10, ct + lanes);
        V.Store(c11, ct + lanes + vc);
        V.Store(c20, ct + 2 * lanes);
        V.Store(c21, ct + 2 * lanes + vc);
        V.Store(c30, ct + 3 * lanes);
        V.Store(c31, ct + 3 * lanes + vc);
        V.Store(c40, ct + 4 * lanes);
        V.Store(c41, ct + 4 * lanes + vc);
        V.Store(c50, ct + 5 * lanes);
        V.Store(c51, ct + 5 * lanes + vc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Row(float* sentences, int row, int r, int e) => sentences + (long)Math.Min(row, r - 1) * e;

    private static void Backward<V>(int n, int p, int r, int e, float* patches, float* sentences, int* offsets, int* argP, int* argS, float* gScores,
        float* dPatches, float* dSentences) where V : unmanaged, ISimd<V>
    {
        // Coefficients: cI[n, m] = di2t[m, n] / P, cT[n, r] = dt2i[m(r), n] / S_m(r).
        float* cI = (float*)NativeMemory.Alloc((nuint)((long)n * n), sizeof(float));
        float* cT = (float*)NativeMemory.Alloc((nuint)((long)n * r), sizeof(float));
        float* partials = null;
        try
        {
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

            // Column chunks: 4 vectors, then single vectors, then single columns.
            var chunks = new List<(int Start, int Kind)>();
            int vc = V.Count, col = 0;
            for (; col + 4 * vc <= e; col += 4 * vc) chunks.Add((col, 4));
            for (; col + vc <= e; col += vc) chunks.Add((col, 1));
            for (; col < e; col++) chunks.Add((col, 0));
            int groups = chunks.Count == 0 ? 1 : Math.Clamp((2 * Environment.ProcessorCount + chunks.Count - 1) / chunks.Count, 1, n);
            if (groups > 1) partials = (float*)NativeMemory.Alloc((nuint)((long)groups * r * e), sizeof(float));

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
                int width = kind == 4 ? 4 * vc : kind == 1 ? vc : 1;
                if (kind == 0) job.Run<V1>(start, width, group, unroll4: false);
                else job.Run<V>(start, width, group, unroll4: kind == 4);
            }
            if (items <= 1 || Environment.ProcessorCount == 1)
                for (int item = 0; item < items; item++) RunItem(item);
            else
                Parallel.For(0, items, RunItem);

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

        /// <summary>Columns [e0, e0 + width) of both gradients for the images of one group.</summary>
        public readonly void Run<V>(int e0, int width, int group, bool unroll4) where V : unmanaged, ISimd<V>
        {
            int vc = V.Count;
            int img0 = (int)((long)group * N / Groups), img1 = (int)((long)(group + 1) * N / Groups);
            float* dq = DSentences + (Groups > 1 ? (long)group * R * E : 0);
            for (int row = 0; row < R; row++) new Span<float>(dq + (long)row * E + e0, width).Clear();
            for (int img = img0; img < img1; img++)
            {
                float* imagePatches = Patches + (long)img * P * E;
                float* dImage = DPatches + (long)img * P * E;
                if (!AnyI)
                    for (int pp = 0; pp < P; pp++) new Span<float>(dImage + (long)pp * E + e0, width).Clear();
                else if (unroll4)
                    I2t4<V>(e0, imagePatches, dImage, dq, ArgS + (long)img * P * N, CI + (long)img * N);
                else
                    for (int c = 0; c < width; c += vc) I2t1<V>(e0 + c, imagePatches, dImage, dq, ArgS + (long)img * P * N, CI + (long)img * N);

                // t2i: each sentence row's chosen patch.
                float* cT = CT + (long)img * R;
                int* chosen = ArgP + (long)img * R;
                for (int row = 0; row < R; row++)
                {
                    float c = cT[row];
                    if (c == 0f) continue;
                    V cv = V.Splat(c);
                    long patchAt = (long)chosen[row] * E;
                    float* q = Sentences + (long)row * E;
                    float* d = dq + (long)row * E;
                    for (int k = e0; k < e0 + width; k += vc)
                    {
                        V.Store(V.Fma(cv, V.Load(q + k), V.Load(dImage + patchAt + k)), dImage + patchAt + k);
                        V.Store(V.Fma(cv, V.Load(imagePatches + patchAt + k), V.Load(d + k)), d + k);
                    }
                }
            }
        }

        /// <summary>
        /// i2t for one image over 4 vectors of columns: the patch row chunk and its gradient stay in
        /// registers while the N chosen sentence rows are gathered and their gradients updated.
        /// </summary>
        private readonly void I2t4<V>(int e0, float* imagePatches, float* dImage, float* dq, int* imageArgS, float* cI) where V : unmanaged, ISimd<V>
        {
            int vc = V.Count;
            V z = V.Splat(0f);
            for (int pp = 0; pp < P; pp++)
            {
                float* x = imagePatches + (long)pp * E + e0;
                V x0 = V.Load(x), x1 = V.Load(x + vc), x2 = V.Load(x + 2 * vc), x3 = V.Load(x + 3 * vc);
                V a0 = z, a1 = z, a2 = z, a3 = z;
                int* args = imageArgS + (long)pp * N;
                for (int m = 0; m < N; m++)
                {
                    V c = V.Splat(cI[m]);
                    long at = (long)(Offsets[m] + args[m]) * E + e0;
                    float* q = Sentences + at;
                    float* d = dq + at;
                    a0 = V.Fma(c, V.Load(q), a0);
                    a1 = V.Fma(c, V.Load(q + vc), a1);
                    a2 = V.Fma(c, V.Load(q + 2 * vc), a2);
                    a3 = V.Fma(c, V.Load(q + 3 * vc), a3);
                    V.Store(V.Fma(c, x0, V.Load(d)), d);
                    V.Store(V.Fma(c, x1, V.Load(d + vc)), d + vc);
                    V.Store(V.Fma(c, x2, V.Load(d + 2 * vc)), d + 2 * vc);
                    V.Store(V.Fma(c, x3, V.Load(d + 3 * vc)), d + 3 * vc);
                }
                float* y = dImage + (long)pp * E + e0;
                V.Store(a0, y);
                V.Store(a1, y + vc);
                V.Store(a2, y + 2 * vc);
                V.Store(a3, y + 3 * vc);
            }
        }

        /// <summary>i2t for one image over one vector of columns.</summary>
        private readonly void I2t1<V>(int e0, float* imagePatches, float* dImage, float* dq, int* imageArgS, float* cI) where V : unmanaged, ISimd<V>
        {
            for (int pp = 0; pp < P; pp++)
            {
                V x0 = V.Load(imagePatches + (long)pp * E + e0);
                V a0 = V.Splat(0f);
                int* args = imageArgS + (long)pp * N;
                for (int m = 0; m < N; m++)
                {
                    V c = V.Splat(cI[m]);
                    long at = (long)(Offsets[m] + args[m]) * E + e0;
                    a0 = V.Fma(c, V.Load(Sentences + at), a0);
                    V.Store(V.Fma(c, x0, V.Load(dq + at)), dq + at);
                }
                V.Store(a0, dImage + (long)pp * E + e0);
            }
        }
    }
}
