using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD layer norm for the fast CPU backend, the twin of
/// <see cref="Normalization.LayerNorm"/> (same saved statistics: mean[r] and rstd[r] =
/// 1 / sqrt(var + eps), biased two-pass variance) over a contiguous [rows, c] buffer, rows split
/// across cores. The backward is one fused pass per row range: the two row sums for dx and, in
/// the same sweep, the column partial sums for dWeight/dBias (one [c] pair per range, added in
/// double at the end), so x and dy are read once from memory.
/// </summary>
public static unsafe class LayerNormSimd
{
    /// <summary>y = (x - mean) rstd w + b per row (w, b may be null); mean and rstd [rows] saved.</summary>
    public static void Forward(int rows, int c, float* x, float* weight, float* bias, float* y, float* mean, float* rstd, float eps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(c, 1);
        nint px = (nint)x, pw = (nint)weight, pb = (nint)bias, py = (nint)y, pm = (nint)mean, pr = (nint)rstd;
        CpuParallel.ForRows(rows, c, (r0, count) =>
            ForwardRows(r0, count, c, (float*)px, (float*)pw, (float*)pb, (float*)py, (float*)pm, (float*)pr, eps));
    }

    /// <summary>
    /// dx [rows, c] (when non-null) = rstd (g - mean_j g - xhat mean_j(g xhat)), g = dy w (dy without
    /// a weight), xhat = (x - mean) rstd; dWeight/dBias [c] (when non-null) = sum_r dy xhat, sum_r dy.
    /// </summary>
    public static void Backward(int rows, int c, float* x, float* weight, float* dy, float* mean, float* rstd, float* dx, float* dWeight, float* dBias)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(c, 1);
        bool parameters = dWeight != null || dBias != null;
        if (rows <= 0)
        {
            if (parameters) ClearParameters(c, dWeight, dBias);
            return;
        }
        // Fixed row ranges so each gets its own column partials: about 2 per core, fewer for small inputs.
        long work = (long)rows * c;
        int ranges = Environment.ProcessorCount == 1 || work < CpuParallel.InlineElements ? 1 : Math.Min(rows, 2 * Environment.ProcessorCount);
        int perRange = (rows + ranges - 1) / ranges;
        ranges = (rows + perRange - 1) / perRange;
        float[]? partial = parameters ? ArrayPool<float>.Shared.Rent(ranges * 2 * c) : null;
        try
        {
            fixed (float* pp = partial)
            {
                nint px = (nint)x, pw = (nint)weight, pg = (nint)dy, pm = (nint)mean, pr = (nint)rstd, pdx = (nint)dx, ppart = (nint)pp;
                void Range(int i)
                {
                    int r0 = i * perRange;
                    float* part = ppart == 0 ? null : (float*)ppart + (long)i * 2 * c;
                    BackwardRows(r0, Math.Min(perRange, rows - r0), c, (float*)px, (float*)pw, (float*)pg, (float*)pm, (float*)pr, (float*)pdx, part);
                }
                if (ranges == 1) Range(0);
                else Parallel.For(0, ranges, Range);
                if (parameters)
                    for (int j = 0; j < c; j++)
                    {
                        double sw = 0, sb = 0;
                        for (int i = 0; i < ranges; i++)
                        {
                            sw += pp[(long)i * 2 * c + j];
                            sb += pp[(long)i * 2 * c + c + j];
                        }
                        if (dWeight != null) dWeight[j] = (float)sw;
                        if (dBias != null) dBias[j] = (float)sb;
                    }
            }
        }
        finally
        {
            if (partial is not null) ArrayPool<float>.Shared.Return(partial);
        }
    }

    private static void ClearParameters(int c, float* dWeight, float* dBias)
    {
        for (int j = 0; j < c; j++)
        {
            if (dWeight != null) dWeight[j] = 0f;
            if (dBias != null) dBias[j] = 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows(int r0, int count, int c, float* x, float* w, float* b, float* y, float* mean, float* rstd, float eps)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            float* xr = x + (long)r * c, yr = y + (long)r * c;
            float mu = RowSimd.Sum(xr, c) / c;
            float rs = 1f / MathF.Sqrt(RowSimd.SumSquaredDeviation(xr, c, mu) / c + eps);
            mean[r] = mu;
            rstd[r] = rs;
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = Normalize<V512>(xr, w, b, yr, c, mu, rs);
            else if (Vector256.IsHardwareAccelerated) j = Normalize<V256>(xr, w, b, yr, c, mu, rs);
            Normalize<V1>(xr + j, w == null ? null : w + j, b == null ? null : b + j, yr + j, c - j, mu, rs);
        }
    }

    /// <summary>Whole vectors of y = (x - mu) rs w + b from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Normalize<V>(float* x, float* w, float* b, float* y, int n, float mu, float rs) where V : unmanaged, ISimd<V>
    {
        int step = V.Count, j = 0;
        V vm = V.Splat(mu), vr = V.Splat(rs);
        if (w != null && b != null)
            for (; j <= n - step; j += step) V.Store(V.Fma((V.Load(x + j) - vm) * vr, V.Load(w + j), V.Load(b + j)), y + j);
        else if (w != null)
            for (; j <= n - step; j += step) V.Store((V.Load(x + j) - vm) * vr * V.Load(w + j), y + j);
        else if (b != null)
            for (; j <= n - step; j += step) V.Store((V.Load(x + j) - vm) * vr + V.Load(b + j), y + j);
        else
            for (; j <= n - step; j += step) V.Store((V.Load(x + j) - vm) * vr, y + j);
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(int r0, int count, int c, float* x, float* w, float* dy, float* mean, float* rstd, float* dx, float* part)
    {
        if (part != null) new Span<float>(part, 2 * c).Clear();
        for (int r = r0; r < r0 + count; r++)
        {
            long o = (long)r * c;
            float mu = mean[r], rs = rstd[r];
            double sumG = 0, sumGx = 0;
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = RowSums<V512>(x + o, w, dy + o, c, mu, rs, part, ref sumG, ref sumGx);
            else if (Vector256.IsHardwareAccelerated) j = RowSums<V256>(x + o, w, dy + o, c, mu, rs, part, ref sumG, ref sumGx);
            RowSums<V1>(x + o + j, w == null ? null : w + j, dy + o + j, c - j, mu, rs, part == null ? null : part + j, ref sumG, ref sumGx, c);
            if (dx == null) continue;
            float meanG = (float)(sumG / c), meanGx = (float)(sumGx / c);
            j = 0;
            if (Vector512.IsHardwareAccelerated) j = InputGradient<V512>(x + o, w, dy + o, dx + o, c, mu, rs, meanG, meanGx);
            else if (Vector256.IsHardwareAccelerated) j = InputGradient<V256>(x + o, w, dy + o, dx + o, c, mu, rs, meanG, meanGx);
            InputGradient<V1>(x + o + j, w == null ? null : w + j, dy + o + j, dx + o + j, c - j, mu, rs, meanG, meanGx);
        }
    }

    /// <summary>
    /// Whole vectors from the start: adds sum g and sum g xhat to the row sums and, when
    /// <paramref name="part"/> is non-null, dy xhat and dy to its column partials (part[0, c) and
    /// part[stride, stride + c)); returns how many elements it did.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RowSums<V>(float* x, float* w, float* dy, int n, float mu, float rs, float* part, ref double sumG, ref double sumGx, int stride = 0)
        where V : unmanaged, ISimd<V>
    {
        int step = V.Count, j = 0;
        if (stride == 0) stride = n;
        V vm = V.Splat(mu), vr = V.Splat(rs), ag = V.Splat(0f), agx = ag;
        for (; j <= n - step; j += step)
        {
            V d = V.Load(dy + j);
            V xhat = (V.Load(x + j) - vm) * vr;
            V g = w == null ? d : d * V.Load(w + j);
            ag += g;
            agx = V.Fma(g, xhat, agx);
            if (part != null)
            {
                V.Store(V.Fma(d, xhat, V.Load(part + j)), part + j);
                V.Store(V.Load(part + stride + j) + d, part + stride + j);
            }
        }
        sumG += V.SumLanes(ag);
        sumGx += V.SumLanes(agx);
        return j;
    }

    /// <summary>Whole vectors of dx = rs (g - meanG - xhat meanGx) from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int InputGradient<V>(float* x, float* w, float* dy, float* dx, int n, float mu, float rs, float meanG, float meanGx)
        where V : unmanaged, ISimd<V>
    {
        int step = V.Count, j = 0;
        V vm = V.Splat(mu), vr = V.Splat(rs), vg = V.Splat(meanG), vgx = V.Splat(meanGx);
        for (; j <= n - step; j += step)
        {
            V d = V.Load(dy + j);
            V g = w == null ? d : d * V.Load(w + j);
            V xhat = (V.Load(x + j) - vm) * vr;
            V.Store(vr * (g - vg - xhat * vgx), dx + j);
        }
        return j;
    }
}
