using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MaMA.Kernels.Layout;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Flash attention for the fast CPU backend: contiguous fp32 q, k, v [B, H, T, D], o (and the
/// backward's dO) [B, H, T, D] or, with joinHeads, [B, T, H, D] (the heads joined as the output
/// projection reads them: a row of o is written in place, no copy after), an optional key mask
/// keep [B, T] (0 = padded key), causal or not, scores scale * q . k. The CPU twin of
/// <c>Attention/FlashAttention.cs</c> (same definitions, including output 0 and lse = +inf for a
/// query row that sees no key), arranged for SIMD and caches:
/// <list type="bullet">
///   <item>Work is blocked into query blocks of Br = 4 vectors (64 rows with AVX-512) and key blocks
///         of <see cref="KeyBlock"/> rows. Scores are computed transposed, S^T [keys, queries], so
///         the online-softmax statistics of a query block (running max, running sum, rescale
///         factor) are whole vectors and every softmax step is vertical SIMD.</item>
///   <item>Every product is one register-tiled kernel, C[r, :] (+)= sum_k A[r, k] B[k, :] with A
///         read by broadcast through arbitrary strides and B by full vectors (4 x 4 vectors of
///         accumulators): S^T = K Q^T, O += P V, dP^T = V dO^T, dV += P^T dO, dK += dS^T Q,
///         dQ += dS K.</item>
///   <item>Only per-thread scratch of O(block x D) (forward) or O(T x D) (backward, per head) is
///         used; nothing T x T.</item>
/// </list>
/// <para>
/// Dropout on the probabilities (HF GPT-2's attn_dropout, training only), when
/// <see cref="PhiloxDropout.Active"/>: out_i = sum_j P_ij z_ij v_j / ..., with z_ij the factor of
/// element (b, h, i, j) of the probabilities [B, H, T, T] flattened (index ((b H + h) T + i) T + j
/// plus the mask's base), so the values equal softmax, then <c>Ops.Dropout</c>, then times v. The
/// row sums and lse stay those of the undropped probabilities; the backward uses P z for dV and
/// dS = P (dP z - delta) (delta = rowsum(dO * O) still holds, O being the dropped output).
/// </para>
/// The forward runs query blocks of all heads across cores. The backward runs one head per work
/// item (dQ of a head is accumulated by one thread, no atomics), so it uses at most B * H cores.
/// </summary>
public static unsafe class AttentionCpu
{
    /// <summary>Keys per block: S^T and P^T tiles are [KeyBlock, Br] (16 KiB with AVX-512).</summary>
    public const int KeyBlock = 64;

    /// <summary>
    /// Flash attention forward: o and lse ([B, H, T]) from q, k, v; keep may be null (no padding).
    /// o is [B, H, T, D], or [B, T, H, D] when <paramref name="joinHeads"/>.
    /// </summary>
    public static void Forward(int batch, int heads, int t, int d, float* q, float* k, float* v, float* keep, bool causal, float scale, float* o, float* lse,
        bool joinHeads = false, PhiloxDropout dropout = default)
    {
        Check(batch, heads, t, d);
        var p = new Problem(batch, heads, t, d, q, k, v, keep, causal, scale, o, lse, null, null, null, null, joinHeads, dropout);
        if (Vector512.IsHardwareAccelerated) ForwardAll<V512>(p);
        else if (Vector256.IsHardwareAccelerated) ForwardAll<V256>(p);
        else ForwardAll<V1>(p);
    }

    /// <summary>
    /// Flash attention backward from the saved o and lse: dq, dk, dv (each [B, H, T, D], overwritten)
    /// for the upstream gradient dO. o and dO are [B, H, T, D], or [B, T, H, D] when
    /// <paramref name="joinHeads"/> (the forward's layout).
    /// </summary>
    public static void Backward(int batch, int heads, int t, int d, float* q, float* k, float* v, float* keep, bool causal, float scale,
        float* o, float* lse, float* dO, float* dq, float* dk, float* dv, bool joinHeads = false, PhiloxDropout dropout = default)
    {
        Check(batch, heads, t, d);
        var p = new Problem(batch, heads, t, d, q, k, v, keep, causal, scale, o, lse, dO, dq, dk, dv, joinHeads, dropout);
        if (Vector512.IsHardwareAccelerated) BackwardAll<V512>(p);
        else if (Vector256.IsHardwareAccelerated) BackwardAll<V256>(p);
        else BackwardAll<V1>(p);
    }

    private static void Check(int batch, int heads, int t, int d)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(heads);
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        ArgumentOutOfRangeException.ThrowIfLessThan(d, 1);
    }

    /// <summary>The arguments of one call (pointers kept as fields so work items can share them).</summary>
    private readonly struct Problem(int batch, int heads, int t, int d, float* q, float* k, float* v, float* keep, bool causal, float scale,
        float* o, float* lse, float* dO, float* dq, float* dk, float* dv, bool joinHeads, PhiloxDropout dropout)
    {
        public readonly int Batch = batch, Heads = heads, T = t, D = d;
        public readonly float* Q = q, K = k, V = v, Keep = keep, O = o, Lse = lse, DO = dO, DQ = dq, DK = dk, DV = dv;
        public readonly bool Causal = causal;
        public readonly float Scale = scale;

        /// <summary>The probabilities' dropout (off: <see cref="PhiloxDropout.Off"/>).</summary>
        public readonly PhiloxDropout Dropout = dropout;

        /// <summary>
        /// The dropout factors of keys j0 .. j0 + n - 1 for query i of head bh into <paramref name="dst"/>:
        /// elements ((bh T + i) T + j) of the probabilities [B, H, T, T], contiguous along the keys.
        /// </summary>
        public void DropoutRow(int bh, int i, int j0, int n, float* dst) => Dropout.Fill(((long)bh * T + i) * T + j0, n, dst);

        /// <summary>Elements between consecutive rows of one head in o and dO (<see cref="JoinedHeads"/>).</summary>
        public int OutStride => JoinedHeads.RowStride(joinHeads, Heads, D);

        /// <summary>Where row 0 of head bh starts in o and dO (<see cref="JoinedHeads"/>).</summary>
        public long OutHead(int bh) => JoinedHeads.Head(joinHeads, bh, bh / Heads, Heads, T, D);
    }

    // ---------------------------------------------------------------- forward

    private static void ForwardAll<TV>(Problem p) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count, br = 4 * w, dp = RoundUp(p.D, w);
        int blocks = (p.T + br - 1) / br;
        long items = (long)p.Batch * p.Heads * blocks;
        if (items == 0) return;
        bool padded = dp != p.D;
        // Scratch floats: Q^T block, S^T/P^T tile, O accumulator, m, l, corr, lane indices, padded V
        // block, and one query's dropout factors over a key block.
        long scratch = (long)p.D * br + (long)KeyBlock * br + (long)br * dp + 4L * br + (padded ? (long)KeyBlock * dp : 0)
            + (p.Dropout.Active ? KeyBlock : 0);
        int threads = (int)Math.Min(items, Environment.ProcessorCount);
        if (threads <= 1)
        {
            float* buf = Rent(scratch, br, "AttentionCpu forward");
            try
            {
                for (long it = 0; it < items; it++) ForwardBlock<TV>(p, (int)(it / blocks), (int)(it % blocks), buf, dp);
            }
            finally
            {
                NativeMemory.AlignedFree(buf);
            }
            return;
        }
        try
        {
            Parallel.For(0L, items, new ParallelOptions { MaxDegreeOfParallelism = threads },
                () => (nint)Rent(scratch, br, "AttentionCpu forward"),
                (it, _, buf) =>
                {
                    ForwardBlock<TV>(p, (int)(it / blocks), (int)(it % blocks), (float*)buf, dp);
                    return buf;
                },
                buf => NativeMemory.AlignedFree((void*)buf));
        }
        catch (AggregateException e) when (CpuParallel.IsOutOfMemory(e))
        {
            CpuParallel.ThrowOutOfMemory(e);
        }
    }

    /// <summary>One query block (Br rows starting at qb * Br) of head bh against all its visible key blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardBlock<TV>(in Problem p, int bh, int qb, float* buf, int dp) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count, br = 4 * w, t = p.T, d = p.D;
        long headOffset = (long)bh * t * d;
        float* qh = p.Q + headOffset, kh = p.K + headOffset, vh = p.V + headOffset;
        float* keep = p.Keep == null ? null : p.Keep + (long)(bh / p.Heads) * t;
        int i0 = qb * br, nq = Math.Min(br, t - i0);

        float* qt = buf;                         // [d, br]  Q^T of the block, scaled
        float* s = qt + (long)d * br;            // [KeyBlock, br]  S^T, then P^T
        float* acc = s + (long)KeyBlock * br;    // [br, dp]  unnormalised O
        float* m = acc + (long)br * dp;          // [br]  running max
        float* l = m + br;                       // [br]  running sum
        float* corr = l + br;                    // [br]  rescale factor of the current key block
        float* lane = corr + br;                 // [br]  0, 1, ..., br - 1
        float* vpad = lane + br;                 // [KeyBlock, dp]  V block padded to whole vectors (when d % w != 0)
        float* zrow = vpad + (dp != d ? (long)KeyBlock * dp : 0); // [KeyBlock]  dropout factors of one query (dropout only)

        for (int c = 0; c < d; c++)
        {
            float* dst = qt + (long)c * br;
            for (int i = 0; i < nq; i++) dst[i] = qh[(long)(i0 + i) * d + c] * p.Scale;
            for (int i = nq; i < br; i++) dst[i] = 0f;
        }
        for (int i = 0; i < br; i++)
        {
            m[i] = float.NegativeInfinity;
            l[i] = 0f;
            lane[i] = i;
        }
        new Span<float>(acc, br * dp).Clear();

        int keyEnd = p.Causal ? i0 + nq : t;
        for (int j0 = 0; j0 < keyEnd; j0 += KeyBlock)
        {
            int bc = Math.Min(KeyBlock, keyEnd - j0);
            if (keep != null && AllMasked(keep + j0, bc)) continue;
            Gemm<TV>(bc, br, d, kh + (long)j0 * d, d, 1, qt, br, s, br, accumulate: false);
            MaskScores<TV>(s, br, bc, keep == null ? null : keep + j0, p.Causal ? j0 - i0 : int.MinValue, lane);

            // Online softmax, one vector of query columns at a time (all vertical).
            for (int cv = 0; cv < br; cv += w)
            {
                TV mOld = TV.Load(m + cv), mNew = mOld;
                for (int j = 0; j < bc; j++) mNew = TV.Max(mNew, TV.Load(s + (long)j * br + cv));
                TV sum = TV.Splat(0f);
                for (int j = 0; j < bc; j++)
                {
                    float* sp = s + (long)j * br + cv;
                    TV e = ExpFlush(TV.Load(sp) - mNew);
                    TV.Store(e, sp);
                    sum += e;
                }
                TV factor = ExpFlush(mOld - mNew);
                TV.Store(TV.Fma(TV.Load(l + cv), factor, sum), l + cv);
                TV.Store(mNew, m + cv);
                TV.Store(factor, corr + cv);
            }
            for (int i = 0; i < nq; i++)
                if (corr[i] != 1f) ScaleRow<TV>(acc + (long)i * dp, dp, corr[i]);
            // Dropout: P^T[j, i] *= z(i, j0 + j), after the row sums took the undropped values.
            if (p.Dropout.Active)
                for (int i = 0; i < nq; i++)
                {
                    p.DropoutRow(bh, i0 + i, j0, bc, zrow);
                    for (int j = 0; j < bc; j++) s[(long)j * br + i] *= zrow[j];
                }

            float* vb = vh + (long)j0 * d;
            int ldv = d;
            if (dp != d)
            {
                PadRows(vb, d, d, bc, vpad, dp);
                vb = vpad;
                ldv = dp;
            }
            Gemm<TV>(nq, dp, bc, s, 1, br, vb, ldv, acc, dp, accumulate: true);
        }

        float* oh = p.O + p.OutHead(bh);
        int os = p.OutStride;
        float* lh = p.Lse + (long)bh * t;
        for (int i = 0; i < nq; i++)
        {
            float* dst = oh + (long)(i0 + i) * os;
            if (l[i] > 0f)
            {
                float inv = 1f / l[i];
                float* src = acc + (long)i * dp;
                for (int c = 0; c < d; c++) dst[c] = src[c] * inv;
                lh[i0 + i] = m[i] + MathF.Log(l[i]);
            }
            else
            {
                new Span<float>(dst, d).Clear();
                lh[i0 + i] = float.PositiveInfinity;
            }
        }
    }

    // ---------------------------------------------------------------- backward

    private static void BackwardAll<TV>(Problem p) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count, br = 4 * w, dp = RoundUp(p.D, w);
        int heads = p.Batch * p.Heads;
        if (heads == 0) return;
        int tp = RoundUp(p.T, br);
        bool padded = dp != p.D;
        // Scratch floats: Q^T and dO^T of the head, lse and delta, S^T/P^T and dP^T/dS^T tiles,
        // dK and dV block accumulators, lane indices, and padded Q, K, dO, dQ rows when d % w != 0
        // (else dO's rows alone when the heads are joined: see BackwardHead).
        long rowCopies = padded ? 4L * p.T * dp : p.OutStride != p.D ? (long)p.T * dp : 0;
        // With dropout, a Z^T tile [KeyBlock, br] of factors and one query's row of them [KeyBlock].
        long dropout = p.Dropout.Active ? (long)KeyBlock * br + KeyBlock : 0;
        long scratch = 2L * p.D * tp + 2L * tp + 2L * KeyBlock * br + 2L * KeyBlock * dp + br + rowCopies + dropout;
        int threads = Math.Min(heads, Environment.ProcessorCount);
        if (threads <= 1)
        {
            float* buf = Rent(scratch, br, "AttentionCpu backward");
            try
            {
                for (int bh = 0; bh < heads; bh++) BackwardHead<TV>(p, bh, buf, dp, tp);
            }
            finally
            {
                NativeMemory.AlignedFree(buf);
            }
            return;
        }
        try
        {
            Parallel.For(0, heads, new ParallelOptions { MaxDegreeOfParallelism = threads },
                () => (nint)Rent(scratch, br, "AttentionCpu backward"),
                (bh, _, buf) =>
                {
                    BackwardHead<TV>(p, bh, (float*)buf, dp, tp);
                    return buf;
                },
                buf => NativeMemory.AlignedFree((void*)buf));
        }
        catch (AggregateException e) when (CpuParallel.IsOutOfMemory(e))
        {
            CpuParallel.ThrowOutOfMemory(e);
        }
    }

    /// <summary>dQ, dK, dV of one head: key blocks outside, query blocks inside (dK, dV of a key block stay in scratch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardHead<TV>(in Problem p, int bh, float* buf, int dp, int tp) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count, br = 4 * w, t = p.T, d = p.D;
        long headOffset = (long)bh * t * d;
        float* qh = p.Q + headOffset, kh = p.K + headOffset, vh = p.V + headOffset;
        float* oh = p.O + p.OutHead(bh), doh = p.DO + p.OutHead(bh);
        int os = p.OutStride; // row stride of oh and doh
        float* dqh = p.DQ + headOffset, dkh = p.DK + headOffset, dvh = p.DV + headOffset;
        float* lh = p.Lse + (long)bh * t;
        float* keep = p.Keep == null ? null : p.Keep + (long)(bh / p.Heads) * t;

        float* qt = buf;                              // [d, tp]  Q^T, scaled
        float* dot = qt + (long)d * tp;               // [d, tp]  dO^T
        float* lse = dot + (long)d * tp;              // [tp]  (+inf past t)
        float* delta = lse + tp;                      // [tp]  rowsum(dO * O)
        float* s = delta + tp;                        // [KeyBlock, br]  S^T, then P^T
        float* ds = s + (long)KeyBlock * br;          // [KeyBlock, br]  dP^T, then dS^T (scale folded in)
        float* dkAcc = ds + (long)KeyBlock * br;      // [KeyBlock, dp]
        float* dvAcc = dkAcc + (long)KeyBlock * dp;   // [KeyBlock, dp]
        float* lane = dvAcc + (long)KeyBlock * dp;    // [br]
        float* pads = lane + br;                      // padded or copied rows (below)
        long padFloats = dp != d ? 4L * t * dp : os != d ? (long)t * dp : 0;
        float* zt = pads + padFloats;                 // [KeyBlock, br]  Z^T, dropout factors (dropout only)
        float* zrow = zt + (long)KeyBlock * br;       // [KeyBlock]  one query's factors

        // Row operands with whole vectors: the tensors themselves, or zero-padded copies.
        float* qRows = qh, kRows = kh, gRows = doh, dqRows = dqh;
        int ld = d, ldg = os;
        if (dp != d)
        {
            float* pad = pads;
            qRows = pad;
            kRows = qRows + (long)t * dp;
            gRows = kRows + (long)t * dp;
            dqRows = gRows + (long)t * dp;
            PadRows(qh, d, d, t, qRows, dp);
            PadRows(kh, d, d, t, kRows, dp);
            PadRows(doh, d, os, t, gRows, dp);
            ld = ldg = dp;
        }
        else if (os != d)
        {
            // Joined heads: dO's rows are H D apart, beyond what the hardware prefetcher follows, and
            // dV's product re-reads them for every key block; one contiguous copy per head, made
            // first, serves dO^T and delta as well.
            gRows = pads;
            PadRows(doh, d, os, t, gRows, dp);
            ldg = dp;
        }

        // Q^T and dO^T, reading whole rows (dO's from its contiguous copy when the heads are joined).
        for (int i = 0; i < t; i++)
        {
            float* qRow = qh + (long)i * d, gRow = gRows + (long)i * ldg;
            for (int c = 0; c < d; c++)
            {
                qt[(long)c * tp + i] = qRow[c] * p.Scale;
                dot[(long)c * tp + i] = gRow[c];
            }
        }
        for (int c = 0; c < d; c++)
            for (int i = t; i < tp; i++) qt[(long)c * tp + i] = dot[(long)c * tp + i] = 0f;
        for (int i = 0; i < t; i++)
        {
            lse[i] = lh[i];
            float sum = 0f;
            for (int c = 0; c < d; c++) sum += gRows[(long)i * ldg + c] * oh[(long)i * os + c];
            delta[i] = sum;
        }
        for (int i = t; i < tp; i++)
        {
            lse[i] = float.PositiveInfinity;
            delta[i] = 0f;
        }
        for (int i = 0; i < br; i++) lane[i] = i;
        new Span<float>(dqRows, checked(t * ld)).Clear();
        TV scale = TV.Splat(p.Scale);

        for (int j0 = 0; j0 < t; j0 += KeyBlock)
        {
            int bc = Math.Min(KeyBlock, t - j0);
            new Span<float>(dkAcc, bc * dp).Clear();
            new Span<float>(dvAcc, bc * dp).Clear();
            if (keep == null || !AllMasked(keep + j0, bc))
            {
                for (int i0 = p.Causal ? j0 / br * br : 0; i0 < t; i0 += br)
                {
                    int nq = Math.Min(br, t - i0);
                    Gemm<TV>(bc, br, d, kh + (long)j0 * d, d, 1, qt + i0, tp, s, br, accumulate: false);
                    Gemm<TV>(bc, br, d, vh + (long)j0 * d, d, 1, dot + i0, tp, ds, br, accumulate: false);
                    MaskScores<TV>(s, br, bc, keep == null ? null : keep + j0, p.Causal ? j0 - i0 : int.MinValue, lane);
                    if (p.Dropout.Active)
                    {
                        // Z^T [bc, br]: query i's factors over the block's keys, 0 past the last query.
                        for (int i = 0; i < br; i++)
                        {
                            if (i < nq) p.DropoutRow(bh, i0 + i, j0, bc, zrow);
                            for (int j = 0; j < bc; j++) zt[(long)j * br + i] = i < nq ? zrow[j] : 0f;
                        }
                        // dV takes P z, dS = P (dP z - delta) scale.
                        for (int j = 0; j < bc; j++)
                        {
                            float* sp = s + (long)j * br, dsp = ds + (long)j * br, zp = zt + (long)j * br;
                            for (int cv = 0; cv < br; cv += w)
                            {
                                TV prob = ExpFlush(TV.Load(sp + cv) - TV.Load(lse + i0 + cv)), z = TV.Load(zp + cv);
                                TV.Store(prob * z, sp + cv);
                                TV.Store(prob * (TV.Load(dsp + cv) * z - TV.Load(delta + i0 + cv)) * scale, dsp + cv);
                            }
                        }
                    }
                    else
                    {
                        for (int j = 0; j < bc; j++)
                        {
                            float* sp = s + (long)j * br, dsp = ds + (long)j * br;
                            for (int cv = 0; cv < br; cv += w)
                            {
                                TV prob = ExpFlush(TV.Load(sp + cv) - TV.Load(lse + i0 + cv));
                                TV.Store(prob, sp + cv);
                                TV.Store(prob * (TV.Load(dsp + cv) - TV.Load(delta + i0 + cv)) * scale, dsp + cv);
                            }
                        }
                    }
                    Gemm<TV>(bc, dp, nq, s, br, 1, gRows + (long)i0 * ldg, ldg, dvAcc, dp, accumulate: true);
                    Gemm<TV>(bc, dp, nq, ds, br, 1, qRows + (long)i0 * ld, ld, dkAcc, dp, accumulate: true);
                    Gemm<TV>(nq, dp, bc, ds, 1, br, kRows + (long)j0 * ld, ld, dqRows + (long)i0 * ld, ld, accumulate: true);
                }
            }
            for (int j = 0; j < bc; j++)
            {
                new ReadOnlySpan<float>(dkAcc + (long)j * dp, d).CopyTo(new Span<float>(dkh + (long)(j0 + j) * d, d));
                new ReadOnlySpan<float>(dvAcc + (long)j * dp, d).CopyTo(new Span<float>(dvh + (long)(j0 + j) * d, d));
            }
        }
        if (dqRows != dqh)
            for (int i = 0; i < t; i++)
                new ReadOnlySpan<float>(dqRows + (long)i * dp, d).CopyTo(new Span<float>(dqh + (long)i * d, d));
    }

    // ---------------------------------------------------------------- shared pieces

    /// <summary>
    /// Sets invisible scores of an S^T tile [bc, br] to -inf: rows of padded keys, and (when
    /// <paramref name="causalShift"/> = j0 - i0 is not int.MinValue) entries whose query index is
    /// below the key index, i.e. lane &lt; j + causalShift.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskScores<TV>(float* s, int br, int bc, float* keep, int causalShift, float* lane) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        TV minusInf = TV.Splat(float.NegativeInfinity);
        for (int j = 0; j < bc; j++)
        {
            float* row = s + (long)j * br;
            if (keep != null && keep[j] == 0f)
            {
                for (int cv = 0; cv < br; cv += w) TV.Store(minusInf, row + cv);
                continue;
            }
            if (causalShift == int.MinValue) continue;
            int first = j + causalShift; // queries with lane index >= first see key j
            if (first <= 0) continue;
            TV threshold = TV.Splat(first);
            for (int cv = 0; cv < br; cv += w)
                TV.Store(TV.Select(TV.GreaterThanOrEqual(TV.Load(lane + cv), threshold), TV.Load(row + cv), minusInf), row + cv);
        }
    }

    /// <summary>
    /// e^x for x &gt;= -87, exactly 0 below (so -inf and NaN from fully masked entries give 0). The
    /// arguments are scores minus a running maximum or the log-sum-exp, never above 0, so the
    /// exponential needs no overflow test.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpFlush<TV>(TV x) where TV : unmanaged, ISimd<TV> =>
        TV.And(SimdMath.ExpNonPositive(x), TV.GreaterThanOrEqual(x, TV.Splat(-87f)));

    private static bool AllMasked(float* keep, int n)
    {
        for (int j = 0; j < n; j++)
            if (keep[j] != 0f) return false;
        return true;
    }

    private static void ScaleRow<TV>(float* row, int n, float factor) where TV : unmanaged, ISimd<TV>
    {
        TV f = TV.Splat(factor);
        for (int c = 0; c < n; c += TV.Count) TV.Store(TV.Load(row + c) * f, row + c);
    }

    /// <summary>Copies rows of d floats (<paramref name="srcStride"/> apart) into rows of dp floats, zero-filling columns d..dp.</summary>
    private static void PadRows(float* src, int d, int srcStride, int rows, float* dst, int dp)
    {
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<float>(src + (long)r * srcStride, d).CopyTo(new Span<float>(dst + (long)r * dp, d));
            new Span<float>(dst + (long)r * dp + d, dp - d).Clear();
        }
    }

    private static int RoundUp(int n, int multiple) => (n + multiple - 1) / multiple * multiple;

    private static float* Rent(long floats, int align, string name) =>
        (float*)ScratchMemory.AlignedAlloc(Math.Max(floats, 1) * sizeof(float), (nuint)Math.Max(64, align * sizeof(float)), name);

    /// <summary>
    /// C[r, 0..n) = (or +=) sum_{x &lt; kk} A[r * sa + x * ka] B[x * ldb + 0..n) for r &lt; rows; n is a
    /// multiple of the vector width. 4 rows x 4 vectors of accumulators where possible.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm<TV>(int rows, int n, int kk, float* a, int sa, int ka, float* b, int ldb, float* c, int ldc, bool accumulate)
        where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            float* ar = a + (long)r * sa, cr = c + (long)r * ldc;
            int col = 0;
            for (; col + 4 * w <= n; col += 4 * w) Tile4x4<TV>(kk, ar, sa, ka, b + col, ldb, cr + col, ldc, accumulate);
            for (; col < n; col += w) TileRx1<TV>(4, kk, ar, sa, ka, b + col, ldb, cr + col, ldc, accumulate);
        }
        for (; r < rows; r++)
        {
            float* ar = a + (long)r * sa, cr = c + (long)r * ldc;
            int col = 0;
            for (; col + 4 * w <= n; col += 4 * w) Tile1x4<TV>(kk, ar, ka, b + col, ldb, cr + col, accumulate);
            for (; col < n; col += w) TileRx1<TV>(1, kk, ar, sa, ka, b + col, ldb, cr + col, ldc, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile4x4<TV>(int kk, float* a, int sa, int ka, float* b, int ldb, float* c, int ldc, bool accumulate)
        where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        float* c0 = c, c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        TV x00, x01, x02, x03, x10, x11, x12, x13, x20, x21, x22, x23, x30, x31, x32, x33;
        if (accumulate)
        {
            x00 = TV.Load(c0); x01 = TV.Load(c0 + w); x02 = TV.Load(c0 + 2 * w); x03 = TV.Load(c0 + 3 * w);
            x10 = TV.Load(c1); x11 = TV.Load(c1 + w); x12 = TV.Load(c1 + 2 * w); x13 = TV.Load(c1 + 3 * w);
            x20 = TV.Load(c2); x21 = TV.Load(c2 + w); x22 = TV.Load(c2 + 2 * w); x23 = TV.Load(c2 + 3 * w);
            x30 = TV.Load(c3); x31 = TV.Load(c3 + w); x32 = TV.Load(c3 + 2 * w); x33 = TV.Load(c3 + 3 * w);
        }
        else
        {
            x00 = x01 = x02 = x03 = x10 = x11 = x12 = x13 = x20 = x21 = x22 = x23 = x30 = x31 = x32 = x33 = TV.Splat(0f);
        }
        float* a0 = a, a1 = a + sa, a2 = a1 + sa, a3 = a2 + sa;
        for (int x = 0; x < kk; x++)
        {
            TV b0 = TV.Load(b), b1 = TV.Load(b + w), b2 = TV.Load(b + 2 * w), b3 = TV.Load(b + 3 * w);
            TV s = TV.Splat(*a0);
            x00 = TV.Fma(s, b0, x00); x01 = TV.Fma(s, b1, x01); x02 = TV.Fma(s, b2, x02); x03 = TV.Fma(s, b3, x03);
            s = TV.Splat(*a1);
            x10 = TV.Fma(s, b0, x10); x11 = TV.Fma(s, b1, x11); x12 = TV.Fma(s, b2, x12); x13 = TV.Fma(s, b3, x13);
            s = TV.Splat(*a2);
            x20 = TV.Fma(s, b0, x20); x21 = TV.Fma(s, b1, x21); x22 = TV.Fma(s, b2, x22); x23 = TV.Fma(s, b3, x23);
            s = TV.Splat(*a3);
            x30 = TV.Fma(s, b0, x30); x31 = TV.Fma(s, b1, x31); x32 = TV.Fma(s, b2, x32); x33 = TV.Fma(s, b3, x33);
            a0 += ka; a1 += ka; a2 += ka; a3 += ka;
            b += ldb;
        }
        TV.Store(x00, c0); TV.Store(x01, c0 + w); TV.Store(x02, c0 + 2 * w); TV.Store(x03, c0 + 3 * w);
        TV.Store(x10, c1); TV.Store(x11, c1 + w); TV.Store(x12, c1 + 2 * w); TV.Store(x13, c1 + 3 * w);
        TV.Store(x20, c2); TV.Store(x21, c2 + w); TV.Store(x22, c2 + 2 * w); TV.Store(x23, c2 + 3 * w);
        TV.Store(x30, c3); TV.Store(x31, c3 + w); TV.Store(x32, c3 + 2 * w); TV.Store(x33, c3 + 3 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile1x4<TV>(int kk, float* a, int ka, float* b, int ldb, float* c, bool accumulate) where TV : unmanaged, ISimd<TV>
    {
        int w = TV.Count;
        TV x0, x1, x2, x3;
        if (accumulate)
        {
            x0 = TV.Load(c); x1 = TV.Load(c + w); x2 = TV.Load(c + 2 * w); x3 = TV.Load(c + 3 * w);
        }
        else
        {
            x0 = x1 = x2 = x3 = TV.Splat(0f);
        }
        for (int x = 0; x < kk; x++)
        {
            TV s = TV.Splat(*a);
            x0 = TV.Fma(s, TV.Load(b), x0); x1 = TV.Fma(s, TV.Load(b + w), x1);
            x2 = TV.Fma(s, TV.Load(b + 2 * w), x2); x3 = TV.Fma(s, TV.Load(b + 3 * w), x3);
            a += ka;
            b += ldb;
        }
        TV.Store(x0, c); TV.Store(x1, c + w); TV.Store(x2, c + 2 * w); TV.Store(x3, c + 3 * w);
    }

    /// <summary>Up to 4 rows by one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileRx1<TV>(int rows, int kk, float* a, int sa, int ka, float* b, int ldb, float* c, int ldc, bool accumulate)
        where TV : unmanaged, ISimd<TV>
    {
        for (int r = 0; r < rows; r++)
        {
            float* ar = a + (long)r * sa, bx = b;
            TV x0 = accumulate ? TV.Load(c + (long)r * ldc) : TV.Splat(0f);
            for (int x = 0; x < kk; x++)
            {
                x0 = TV.Fma(TV.Splat(*ar), TV.Load(bx), x0);
                ar += ka;
                bx += ldb;
            }
            TV.Store(x0, c + (long)r * ldc);
        }
    }
}
