using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD twin of <see cref="Contrastive.ContrastiveLoss"/> for the fast CPU backend
/// (same layout and formulas: sim [blocks, n, n], lse [2n], logits s * sim). The generated scalar
/// loop spends its time in MathF.Exp (4 n^2 of them per forward); here every exponential is a
/// vector one.
/// <para>
/// Forward: left rows are contiguous (row r of X, then row r of A in two pieces around the
/// diagonal). Right rows are columns of X: they are reduced a vector of columns at a time,
/// walking down the rows of X, then merged with row r of Z (Z is symmetric, so its row r is the
/// self part of right row r). Each piece is a two-pass (max, then sum of exponentials) partial
/// log-sum-exp; pieces merge by rescaling to the larger maximum.
/// </para>
/// </summary>
public static unsafe class ContrastiveSimd
{
    /// <summary>
    /// Writes lse [2n] and returns the loss inv * sum_r (both loss terms) in loss[0] and the
    /// log-scale derivative s * inv * sum_r (both weighted-mean terms) in scaleGrad[0].
    /// </summary>
    public static void Forward(int n, int blocks, float s, float inv, float* sim, float* lse, float* loss, float* scaleGrad)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (blocks is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(blocks), "blocks must be 1 (CLIP) or 3 (NT-Xent).");
        var weighted = new float[2 * n];
        int width = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 1;
        int columnBlocks = (n + width - 1) / width;
        int rowsPerItem = Math.Max(4, n / Math.Max(1, 4 * Environment.ProcessorCount));
        int rowItems = (n + rowsPerItem - 1) / rowsPerItem;
        nint pSim = (nint)sim, pLse = (nint)lse;
        fixed (float* w = weighted)
        {
            nint pW = (nint)w;
            void Item(int item)
            {
                if (item < rowItems)
                {
                    int r0 = item * rowsPerItem, r1 = Math.Min(n, r0 + rowsPerItem);
                    for (int r = r0; r < r1; r++) LeftRow(n, blocks, s, (float*)pSim, r, (float*)pLse, (float*)pW);
                }
                else
                {
                    int c0 = (item - rowItems) * width;
                    RightColumns(n, blocks, s, (float*)pSim, c0, Math.Min(width, n - c0), (float*)pLse, (float*)pW);
                }
            }
            int items = rowItems + columnBlocks;
            if (Environment.ProcessorCount == 1 || (long)n * n < 4096) for (int i = 0; i < items; i++) Item(i);
            else Parallel.For(0, items, Item);

            double sumLoss = 0, sumScale = 0;
            for (int r = 0; r < n; r++)
            {
                float diag = sim[(long)r * n + r];
                sumLoss += (double)(lse[r] - s * diag) + (lse[n + r] - s * diag);
                sumScale += (double)(w[r] - diag) + (w[n + r] - diag);
            }
            loss[0] = (float)(inv * sumLoss);
            scaleGrad[0] = (float)(s * (double)inv * sumScale);
        }
    }

    /// <summary>
    /// grad [blocks, n, n] = dy s inv (softmax terms - targets), as GradientKernel (c = dy s inv).
    /// </summary>
    public static void Gradient(int n, int blocks, float s, float c, float* sim, float* lse, float* grad)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int rows = blocks * n;
        int rowsPerItem = Math.Max(4, rows / Math.Max(1, 4 * Environment.ProcessorCount));
        nint pSim = (nint)sim, pLse = (nint)lse, pGrad = (nint)grad;
        CpuParallel.For(rows, (long)n * n < 4096 ? rows : rowsPerItem, (start, length) =>
        {
            for (long row = start; row < start + length; row++)
            {
                int block = (int)(row / n), r = (int)(row - (long)block * n);
                // (row lse, column lse) per block: X: left r, right j; A: left r, left j; Z: right r, right j.
                int rowSlot = block == 2 ? n + r : r;
                float* colLse = (float*)pLse + (block == 1 ? 0 : n);
                float* x = (float*)pSim + row * n;
                float* g = (float*)pGrad + row * n;
                GradientRow(x, colLse, g, n, s, ((float*)pLse)[rowSlot], c);
                if (block == 0) g[r] -= 2f * c;
                else g[r] = 0f;
            }
        });
    }

    /// <summary>
    /// dst [cols, rows] = src [rows, cols]^T (through <see cref="StridedCopySimd"/>: 8 x 8 register
    /// transposes, split across cores). The similarity GEMMs take right^T as a row-major operand
    /// this way, which <see cref="Linear.Sgemm"/> reads in place without packing.
    /// </summary>
    public static void Transpose(int rows, int cols, float* src, float* dst) =>
        StridedCopySimd.Copy([cols, rows], (byte*)src, [1L, cols], (byte*)dst, [rows, 1L], sizeof(float));

    private static void LeftRow(int n, int blocks, float s, float* sim, int r, float* lse, float* weighted)
    {
        var acc = Accumulator.Empty;
        acc.Add(sim + (long)r * n, n, s);
        if (blocks == 3)
        {
            float* a = sim + (long)n * n + (long)r * n;
            acc.Add(a, r, s);
            acc.Add(a + r + 1, n - r - 1, s);
        }
        lse[r] = acc.Lse;
        weighted[r] = acc.Mean;
    }

    /// <summary>Right rows c0 .. c0 + count: columns of X (a vector of columns at a time), merged with rows of Z.</summary>
    private static void RightColumns(int n, int blocks, float s, float* sim, int c0, int count, float* lse, float* weighted)
    {
        float* max = stackalloc float[16];
        float* sum = stackalloc float[16];
        float* wsum = stackalloc float[16];
        if (count == 16 && Vector512.IsHardwareAccelerated) Columns<V512>(n, s, sim + c0, max, sum, wsum);
        else if (count == 8 && Vector256.IsHardwareAccelerated) Columns<V256>(n, s, sim + c0, max, sum, wsum);
        else
            for (int k = 0; k < count; k++) Columns<V1>(n, s, sim + c0 + k, max + k, sum + k, wsum + k);
        for (int k = 0; k < count; k++)
        {
            int r = c0 + k;
            var acc = new Accumulator(max[k], sum[k], wsum[k]);
            if (blocks == 3)
            {
                float* z = sim + 2L * n * n + (long)r * n;
                acc.Add(z, r, s);
                acc.Add(z + r + 1, n - r - 1, s);
            }
            lse[n + r] = acc.Lse;
            weighted[n + r] = acc.Mean;
        }
    }

    /// <summary>V.Count adjacent columns of X [n, n] starting at x: per column the scaled max, sum of exp and exp-weighted sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns<V>(int n, float s, float* x, float* max, float* sum, float* wsum) where V : unmanaged, ISimd<V>
    {
        V m = V.Splat(float.NegativeInfinity);
        for (int j = 0; j < n; j++) m = V.Max(m, V.Load(x + (long)j * n));
        V vs = V.Splat(s);
        m *= vs;
        V acc = V.Splat(0f), wacc = V.Splat(0f);
        for (int j = 0; j < n; j++)
        {
            V v = V.Load(x + (long)j * n);
            V e = SimdMath.Exp(V.Fma(v, vs, V.Splat(0f) - m));
            acc += e;
            wacc = V.Fma(e, v, wacc);
        }
        V.Store(m, max);
        V.Store(acc, sum);
        V.Store(wacc, wsum);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradientRow(float* x, float* colLse, float* g, int n, float s, float rowLse, float c)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated) j = GradientLoop<V512>(x, colLse, g, n, s, rowLse, c);
        else if (Vector256.IsHardwareAccelerated) j = GradientLoop<V256>(x, colLse, g, n, s, rowLse, c);
        GradientLoop<V1>(x + j, colLse + j, g + j, n - j, s, rowLse, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int GradientLoop<V>(float* x, float* colLse, float* g, int n, float s, float rowLse, float c) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        V vs = V.Splat(s), vRow = V.Splat(rowLse), vc = V.Splat(c);
        for (; j <= n - w; j += w)
        {
            V logit = V.Load(x + j) * vs;
            V e = SimdMath.Exp(logit - vRow) + SimdMath.Exp(logit - V.Load(colLse + j));
            V.Store(e * vc, g + j);
        }
        return j;
    }

    /// <summary>Partial log-sum-exp of scaled values: running max m (scaled), sum of exp(s v - m) and of exp(s v - m) v.</summary>
    private struct Accumulator(float max, float sum, float weighted)
    {
        private float _max = max, _sum = sum, _weighted = weighted;

        public static Accumulator Empty => new(float.NegativeInfinity, 0f, 0f);

        public readonly float Lse => _max + MathF.Log(_sum);

        public readonly float Mean => _weighted / _sum;

        /// <summary>Adds p[0 .. len) (unscaled): max pass, rescale to the new max, then the exponential pass.</summary>
        public void Add(float* p, int len, float s)
        {
            if (len <= 0) return;
            float segMax = s * SegmentMax(p, len);
            if (segMax > _max)
            {
                float rescale = MathF.Exp(_max - segMax);
                _sum *= rescale;
                _weighted *= rescale;
                _max = segMax;
            }
            SegmentSum(p, len, s, _max, out float sum, out float weighted);
            _sum += sum;
            _weighted += weighted;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SegmentMax(float* p, int len)
    {
        float max = float.NegativeInfinity;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && len >= 16) max = MaxLoop<V512>(p, len, out i);
        else if (Vector256.IsHardwareAccelerated && len >= 8) max = MaxLoop<V256>(p, len, out i);
        for (; i < len; i++) max = p[i] > max ? p[i] : max;
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float MaxLoop<V>(float* p, int len, out int done) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V m = V.Splat(float.NegativeInfinity);
        for (; i <= len - w; i += w) m = V.Max(m, V.Load(p + i));
        done = i;
        float* lanes = stackalloc float[16];
        V.Store(m, lanes);
        float max = lanes[0];
        for (int k = 1; k < w; k++) max = lanes[k] > max ? lanes[k] : max;
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SegmentSum(float* p, int len, float s, float max, out float sum, out float weighted)
    {
        int i = 0;
        sum = 0f;
        weighted = 0f;
        if (Vector512.IsHardwareAccelerated) i = SumLoop<V512>(p, len, s, max, ref sum, ref weighted);
        else if (Vector256.IsHardwareAccelerated) i = SumLoop<V256>(p, len, s, max, ref sum, ref weighted);
        SumLoop<V1>(p + i, len - i, s, max, ref sum, ref weighted);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int SumLoop<V>(float* p, int len, float s, float max, ref float sum, ref float weighted) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        if (len < w) return 0;
        V vs = V.Splat(s), negMax = V.Splat(-max);
        V acc = V.Splat(0f), wacc = V.Splat(0f);
        for (; i <= len - w; i += w)
        {
            V v = V.Load(p + i);
            V e = SimdMath.Exp(V.Fma(v, vs, negMax));
            acc += e;
            wacc = V.Fma(e, v, wacc);
        }
        float* lanes = stackalloc float[32];
        V.Store(acc, lanes);
        V.Store(wacc, lanes + 16);
        for (int k = 0; k < w; k++)
        {
            sum += lanes[k];
            weighted += lanes[16 + k];
        }
        return i;
    }
}
