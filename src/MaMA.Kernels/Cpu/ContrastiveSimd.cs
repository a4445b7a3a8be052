using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD twin of <see cref="Contrastive.ContrastiveLoss"/> for the fast CPU backend
/// (same layout and formulas: sim [blocks, n, n], lse [2n], logits s * sim). The generated scalar
/// loop spends its time in MathF.Exp (4 n^2 of them per forward); here every exponential is a
/// vector one.
/// <para>
/// Forward (<see cref="FusedForward"/>): the similarity GEMMs and the statistics in one
/// fork-join over row bands. Left rows are rows of X (and of A, in pieces around the diagonal);
/// right rows are columns of X, reduced a vector of columns at a time down each band, merged with
/// rows of Z (Z is symmetric). Each piece is a two-pass (max, then sum of exponentials) partial
/// log-sum-exp; pieces merge by rescaling to the larger maximum.
/// </para>
/// </summary>
public static unsafe class ContrastiveSimd
{
    /// <summary>
    /// The whole CPU forward in one fork-join: similarities, log-sum-exps, loss and log-scale
    /// derivative (lse [2n]; loss[0] = inv * sum over the 2n rows of lse - target;
    /// scaleGrad[0] = s inv sum over rows of (softmax-weighted mean of the unscaled row - target)).
    /// left, right [n, e] row-major; sim [blocks, n, n] receives X = left right^T and, with
    /// blocks = 3, A = left left^T and Z = right right^T upper parts only: rows i of A and Z are
    /// written from column panel i / 32 (or i / 16) on, the rest is left unwritten (call
    /// <see cref="MirrorSelfBlocks"/> before reading them whole; the backward does).
    /// <para>
    /// Work items are row bands of the similarity blocks, sized so each carries about the same
    /// multiply-adds (the self blocks' triangles shrink down the rows). An item first helps make
    /// the row-major transposes right^T (and left^T) that the GEMM reads as B, claiming 32-row
    /// chunks so a chunk is never done twice and nobody waits on a thread that has not started;
    /// then it runs the GEMM for its band (<see cref="Linear.SgemmSmall.Band"/>) and, while the
    /// band is in cache, the row statistics of its rows and the column statistics of its band
    /// (partial log-sum-exps per item, merged at the end). Self-block pairs i &lt; j are read once:
    /// from row i for row i and from column j of the band holding i for row j.
    /// </para>
    /// </summary>
    public static void FusedForward(int n, int e, int blocks, float s, float inv, float* left, float* right, float* transposed,
        float* sim, float* lse, float* loss, float* scaleGrad)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(e, 1);
        if (blocks is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(blocks), "blocks must be 1 (CLIP) or 3 (NT-Xent).");
        int nr = Vector512.IsHardwareAccelerated ? 32 : 16, mr = Vector512.IsHardwareAccelerated ? 8 : 6;
        bool parallel = Environment.ProcessorCount > 1 && (long)blocks * n * n * e >= 1L << 18;
        int[] bands = Bands(n, blocks, mr, nr, parallel ? 2 * Environment.ProcessorCount : 1);
        int items = bands.Length - 1;
        var job = new FusedJob(n, e, blocks, s, left, right, transposed, sim, bands, nr);
        CpuParallel.ForClaimed(items, job.Run);

        // Merge the items' partials: every loss row's log-sum-exp and softmax-weighted mean.
        Accumulator[] part = job.Partials;
        var weighted = new float[2 * n];
        for (int q = 0; q < 2 * n; q++)
        {
            Accumulator acc = part[q];
            for (int item = 1; item < items; item++) acc.Merge(part[(long)item * 2 * n + q]);
            lse[q] = acc.Lse;
            weighted[q] = acc.Mean;
        }
        double sumLoss = 0, sumScale = 0;
        for (int r = 0; r < n; r++)
        {
            float diag = sim[(long)r * n + r];
            sumLoss += (double)(lse[r] - s * diag) + (lse[n + r] - s * diag);
            sumScale += (double)(weighted[r] - diag) + (weighted[n + r] - diag);
        }
        loss[0] = (float)(inv * sumLoss);
        scaleGrad[0] = (float)(s * (double)inv * sumScale);
    }

    /// <summary>
    /// Fills the self blocks' lower parts left unwritten by <see cref="FusedForward"/>:
    /// block[i, j] = block[j, i] for j &lt; i, in blocks 1 and 2 of sim [3, n, n].
    /// </summary>
    public static void MirrorSelfBlocks(int n, float* sim)
    {
        const int tile = 32;
        long nn = (long)n * n;
        for (int block = 1; block <= 2; block++)
        {
            float* x = sim + block * nn;
            for (int i0 = 0; i0 < n; i0 += tile)
            {
                int ic = Math.Min(tile, n - i0);
                // Whole tiles left of the diagonal tile: x[i0.., j0..] = x[j0.., i0..]^T.
                for (int j0 = 0; j0 < i0; j0 += tile)
                    StridedCopySimd.Block((byte*)(x + (long)j0 * n + i0), n, (byte*)(x + (long)i0 * n + j0), n, ic, Math.Min(tile, n - j0), sizeof(float));
                for (int i = i0; i < i0 + ic; i++)
                    for (int j = i0; j < i; j++) x[(long)i * n + j] = x[(long)j * n + i];
            }
        }
    }

    /// <summary>
    /// Row band boundaries (multiples of mr, the last n) giving about equal multiply-adds per band:
    /// a row i costs n columns per full block plus n - (i / nr) nr per self block.
    /// </summary>
    private static int[] Bands(int n, int blocks, int mr, int nr, int want)
    {
        int microRows = (n + mr - 1) / mr;
        want = Math.Max(1, Math.Min(want, microRows));
        var cost = new double[microRows + 1];
        for (int u = 0; u < microRows; u++)
        {
            int i = u * mr;
            double rowCost = n + (blocks == 3 ? 2.0 * (n - i / nr * nr) : 0.0);
            cost[u + 1] = cost[u] + rowCost * Math.Min(mr, n - i);
        }
        var bounds = new List<int> { 0 };
        for (int b = 1; b < want; b++)
        {
            double target = cost[microRows] * b / want;
            int u = bounds[^1] / mr + 1;
            while (u < microRows && cost[u] < target) u++;
            if (u >= microRows) break;
            bounds.Add(u * mr);
        }
        bounds.Add(n);
        return bounds.ToArray();
    }

    /// <summary>State shared by the items of one <see cref="FusedForward"/>; <see cref="Run"/> does one band.</summary>
    private sealed class FusedJob(int n, int e, int blocks, float s, float* left, float* right, float* transposed, float* sim, int[] bands, int nr)
    {
        private const int ChunkRows = 32;
        private readonly int _chunksPerOperand = (n + ChunkRows - 1) / ChunkRows;
        private readonly int[] _chunkState = new int[(blocks == 3 ? 2 : 1) * ((n + ChunkRows - 1) / ChunkRows)];

        /// <summary>[items][2n]: this item's partial statistics of every loss row (left rows, then right rows).</summary>
        public readonly Accumulator[] Partials = CreatePartials((bands.Length - 1) * 2 * n);

        private static Accumulator[] CreatePartials(int count)
        {
            var a = new Accumulator[count];
            a.AsSpan().Fill(Accumulator.Empty);
            return a;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int item)
        {
            Transposes();
            int i0 = bands[item], i1 = bands[item + 1], rows = i1 - i0;
            long nn = (long)n * n;
            float* rT = transposed, lT = transposed + (long)e * n;
            float* x = sim, a = sim + nn, z = sim + 2 * nn;
            int panels = (n + nr - 1) / nr, selfPanel = i0 / nr;
            Linear.SgemmSmall.Band(i0, rows, 0, panels, n, n, e, left, e, 1, rT, n, false, x, n, 1f, false);
            if (blocks == 3)
            {
                Linear.SgemmSmall.Band(i0, rows, selfPanel, panels, n, n, e, left, e, 1, lT, n, false, a, n, 1f, false);
                Linear.SgemmSmall.Band(i0, rows, selfPanel, panels, n, n, e, right, e, 1, rT, n, false, z, n, 1f, false);
            }

            Span<Accumulator> part = Partials.AsSpan(item * 2 * n, 2 * n);
            for (int r = i0; r < i1; r++)
            {
                var acc = Accumulator.Empty;
                acc.Add(x + (long)r * n, n, s);
                if (blocks == 3)
                {
                    // Left row r's self part from this band: A[r, i0 .. r) and A[r, r + 1 .. n).
                    float* ar = a + (long)r * n;
                    acc.Add(ar + i0, r - i0, s);
                    acc.Add(ar + r + 1, n - r - 1, s);
                    var accZ = Accumulator.Empty;
                    float* zr = z + (long)r * n;
                    accZ.Add(zr + i0, r - i0, s);
                    accZ.Add(zr + r + 1, n - r - 1, s);
                    part[n + r] = accZ;
                }
                part[r] = acc;
            }
            // Right rows are columns of X; self pairs (i in this band, j >= i1) are row j's A[j, i].
            ColumnPartials(x + (long)i0 * n, rows, 0, part[n..]);
            if (blocks == 3)
            {
                ColumnPartials(a + (long)i0 * n, rows, i1, part[..n]);
                ColumnPartials(z + (long)i0 * n, rows, i1, part[n..]);
            }
        }

        /// <summary>Columns [c0, n) of band [rows, n] (row stride n) merged into target[c].</summary>
        private void ColumnPartials(float* band, int rows, int c0, Span<Accumulator> target)
        {
            float* max = stackalloc float[16];
            float* sum = stackalloc float[16];
            float* wsum = stackalloc float[16];
            int c = c0;
            while (c < n)
            {
                int count;
                if (Vector512.IsHardwareAccelerated && n - c >= 16)
                {
                    ColumnStats<V512>(rows, n, s, band + c, max, sum, wsum);
                    count = 16;
                }
                else if (Vector256.IsHardwareAccelerated && n - c >= 8)
                {
                    ColumnStats<V256>(rows, n, s, band + c, max, sum, wsum);
                    count = 8;
                }
                else
                {
                    ColumnStats<V1>(rows, n, s, band + c, max, sum, wsum);
                    count = 1;
                }
                for (int k = 0; k < count; k++) target[c + k].Merge(new Accumulator(max[k], sum[k], wsum[k]));
                c += count;
            }
        }

        /// <summary>Makes right^T (and left^T) [e, n] in 32-row chunks of the source, each claimed by one thread.</summary>
        private void Transposes()
        {
            for (int chunk = 0; chunk < _chunkState.Length; chunk++)
            {
                if (Volatile.Read(ref _chunkState[chunk]) != 0 || Interlocked.CompareExchange(ref _chunkState[chunk], 1, 0) != 0) continue;
                int operand = chunk / _chunksPerOperand, j0 = chunk % _chunksPerOperand * ChunkRows;
                float* src = operand == 0 ? right : left;
                float* dst = transposed + (long)operand * e * n;
                // dst[k, j0 + jj] = src[j0 + jj, k]
                StridedCopySimd.Block((byte*)(src + (long)j0 * e), e, (byte*)(dst + j0), n, e, Math.Min(ChunkRows, n - j0), sizeof(float));
                Volatile.Write(ref _chunkState[chunk], 2);
            }
            // Chunks claimed by others are being made by running threads: wait for them.
            for (int chunk = 0; chunk < _chunkState.Length; chunk++)
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref _chunkState[chunk]) != 2) spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    /// <summary>V.Count adjacent columns of x [rows, ld]: per column the scaled max, sum of exp and exp-weighted sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnStats<V>(int rows, long ld, float s, float* x, float* max, float* sum, float* wsum) where V : unmanaged, ISimd<V>
    {
        V m = V.Splat(float.NegativeInfinity);
        for (int j = 0; j < rows; j++) m = V.Max(m, V.Load(x + j * ld));
        V vs = V.Splat(s);
        m *= vs;
        V acc = V.Splat(0f), wacc = V.Splat(0f);
        for (int j = 0; j < rows; j++)
        {
            V v = V.Load(x + j * ld);
            V e = SimdMath.ExpNonPositive(V.Fma(v, vs, V.Splat(0f) - m));
            acc += e;
            wacc = V.Fma(e, v, wacc);
        }
        V.Store(m, max);
        V.Store(acc, sum);
        V.Store(wacc, wsum);
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
        if ((long)n * n < 4096) rowsPerItem = rows;
        CpuParallel.ForClaimed((rows + rowsPerItem - 1) / rowsPerItem, item =>
        {
            long start = (long)item * rowsPerItem, end = Math.Min(rows, start + rowsPerItem);
            for (long row = start; row < end; row++)
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
            V e = SimdMath.ExpNonPositive(logit - vRow) + SimdMath.ExpNonPositive(logit - V.Load(colLse + j));
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

        /// <summary>Adds another partial (both relative to their own max; an empty one changes nothing).</summary>
        public void Merge(Accumulator other)
        {
            if (other._sum == 0f) return;
            if (_sum == 0f)
            {
                this = other;
                return;
            }
            if (other._max > _max)
            {
                float rescale = MathF.Exp(_max - other._max);
                _sum = _sum * rescale + other._sum;
                _weighted = _weighted * rescale + other._weighted;
                _max = other._max;
            }
            else
            {
                float rescale = MathF.Exp(other._max - _max);
                _sum += other._sum * rescale;
                _weighted += other._weighted * rescale;
            }
        }

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
            V e = SimdMath.ExpNonPositive(V.Fma(v, vs, negMax));
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
