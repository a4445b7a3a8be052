using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD softmax and log-softmax over the rows of a contiguous [rows, n] buffer, the
/// fast CPU twins of <see cref="Softmax.RowSoftmax"/> (same formulas: the row max is subtracted
/// before exponentiating; log-softmax is (x - max) - log sum), forward and backward, rows split
/// across cores. Exponentials are <see cref="RowSimd.Exp{V}"/> (e^-inf = 0, NaN kept).
/// </summary>
public static unsafe class SoftmaxSimd
{
    /// <summary>y = exp(x - max) / sum exp(x - max) per row.</summary>
    public static void SoftmaxForward(int rows, int n, float* x, float* y)
    {
        nint px = (nint)x, py = (nint)y;
        CpuParallel.ForRows(rows, n, (r0, count) => SoftmaxRows(r0, count, n, (float*)px, (float*)py));
    }

    /// <summary>y = (x - max) - log sum exp(x - max) per row.</summary>
    public static void LogSoftmaxForward(int rows, int n, float* x, float* y)
    {
        nint px = (nint)x, py = (nint)y;
        CpuParallel.ForRows(rows, n, (r0, count) => LogSoftmaxRows(r0, count, n, (float*)px, (float*)py));
    }

    /// <summary>dx = y (dy - sum_k dy[k] y[k]) from the softmax output y.</summary>
    public static void SoftmaxBackward(int rows, int n, float* y, float* dy, float* dx)
    {
        nint py = (nint)y, pg = (nint)dy, pd = (nint)dx;
        CpuParallel.ForRows(rows, n, (r0, count) => SoftmaxBackwardRows(r0, count, n, (float*)py, (float*)pg, (float*)pd));
    }

    /// <summary>dx = dy - exp(y) sum_k dy[k] from the log-softmax output y.</summary>
    public static void LogSoftmaxBackward(int rows, int n, float* y, float* dy, float* dx)
    {
        nint py = (nint)y, pg = (nint)dy, pd = (nint)dx;
        CpuParallel.ForRows(rows, n, (r0, count) => LogSoftmaxBackwardRows(r0, count, n, (float*)py, (float*)pg, (float*)pd));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxRows(int r0, int count, int n, float* x, float* y)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            float max = RowSimd.Max(xr, n);
            float sum = RowSimd.SumExp(xr, n, max, yr);
            RowSimd.Scale(yr, n, 1f / sum, yr);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LogSoftmaxRows(int r0, int count, int n, float* x, float* y)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            float max = RowSimd.Max(xr, n);
            float logSum = MathF.Log(RowSimd.SumExp(xr, n, max, null));
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = ShiftTwice<V512>(xr, yr, n, max, logSum);
            else if (Vector256.IsHardwareAccelerated) j = ShiftTwice<V256>(xr, yr, n, max, logSum);
            ShiftTwice<V1>(xr + j, yr + j, n - j, max, logSum);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxBackwardRows(int r0, int count, int n, float* y, float* dy, float* dx)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            long o = (long)r * n;
            float dot = RowSimd.Dot(dy + o, y + o, n);
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = SoftmaxGradient<V512>(y + o, dy + o, dx + o, n, dot);
            else if (Vector256.IsHardwareAccelerated) j = SoftmaxGradient<V256>(y + o, dy + o, dx + o, n, dot);
            SoftmaxGradient<V1>(y + o + j, dy + o + j, dx + o + j, n - j, dot);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LogSoftmaxBackwardRows(int r0, int count, int n, float* y, float* dy, float* dx)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            long o = (long)r * n;
            float sum = RowSimd.Sum(dy + o, n);
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = LogSoftmaxGradient<V512>(y + o, dy + o, dx + o, n, sum);
            else if (Vector256.IsHardwareAccelerated) j = LogSoftmaxGradient<V256>(y + o, dy + o, dx + o, n, sum);
            LogSoftmaxGradient<V1>(y + o + j, dy + o + j, dx + o + j, n - j, sum);
        }
    }

    /// <summary>y = (x - max) - logSum, whole vectors from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ShiftTwice<V>(float* x, float* y, int n, float max, float logSum) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        V vm = V.Splat(max), vl = V.Splat(logSum);
        for (; j <= n - w; j += w) V.Store(V.Load(x + j) - vm - vl, y + j);
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int SoftmaxGradient<V>(float* y, float* dy, float* dx, int n, float dot) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        V vd = V.Splat(dot);
        for (; j <= n - w; j += w) V.Store(V.Load(y + j) * (V.Load(dy + j) - vd), dx + j);
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int LogSoftmaxGradient<V>(float* y, float* dy, float* dx, int n, float sum) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        V vs = V.Splat(sum);
        for (; j <= n - w; j += w) V.Store(V.Fma(RowSimd.Exp(V.Load(y + j)), V.Splat(0f) - vs, V.Load(dy + j)), dx + j);
        return j;
    }
}
