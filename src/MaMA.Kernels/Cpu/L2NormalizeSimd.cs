using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD row L2 normalisation of a contiguous [rows, n] buffer, the fast CPU twin of
/// <see cref="Softmax.L2Normalize"/>: y = x / max(||x||, eps) with the plain norm saved, and the
/// backward dx = (dy - y (dy . y)) / norm (dy / eps below eps), rows split across cores.
/// </summary>
public static unsafe class L2NormalizeSimd
{
    /// <summary>norm[r] = ||x[r]||; y[r] = x[r] / max(norm[r], eps).</summary>
    public static void Forward(int rows, int n, float* x, float* y, float* norm, float eps)
    {
        nint px = (nint)x, py = (nint)y, pn = (nint)norm;
        CpuParallel.ForRows(rows, n, (r0, count) => ForwardRows(r0, count, n, (float*)px, (float*)py, (float*)pn, eps));
    }

    /// <summary>dx from the saved output y and the unclamped norms.</summary>
    public static void Backward(int rows, int n, float* y, float* dy, float* norm, float* dx, float eps)
    {
        nint py = (nint)y, pg = (nint)dy, pn = (nint)norm, pd = (nint)dx;
        CpuParallel.ForRows(rows, n, (r0, count) => BackwardRows(r0, count, n, (float*)py, (float*)pg, (float*)pn, (float*)pd, eps));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows(int r0, int count, int n, float* x, float* y, float* norm, float eps)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            long o = (long)r * n;
            float length = MathF.Sqrt(RowSimd.Dot(x + o, x + o, n));
            norm[r] = length;
            RowSimd.Scale(x + o, n, 1f / (length > eps ? length : eps), y + o);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(int r0, int count, int n, float* y, float* dy, float* norm, float* dx, float eps)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            long o = (long)r * n;
            float length = norm[r];
            if (!(length >= eps))
            {
                RowSimd.Scale(dy + o, n, 1f / eps, dx + o);
                continue;
            }
            float dot = RowSimd.Dot(dy + o, y + o, n);
            float inv = 1f / length;
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = Gradient<V512>(y + o, dy + o, dx + o, n, dot, inv);
            else if (Vector256.IsHardwareAccelerated) j = Gradient<V256>(y + o, dy + o, dx + o, n, dot, inv);
            Gradient<V1>(y + o + j, dy + o + j, dx + o + j, n - j, dot, inv);
        }
    }

    /// <summary>Whole vectors of dx = (dy - y dot) inv from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Gradient<V>(float* y, float* dy, float* dx, int n, float dot, float inv) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        V vd = V.Splat(dot), vi = V.Splat(inv);
        for (; j <= n - w; j += w) V.Store((V.Load(dy + j) - V.Load(y + j) * vd) * vi, dx + j);
        return j;
    }
}
