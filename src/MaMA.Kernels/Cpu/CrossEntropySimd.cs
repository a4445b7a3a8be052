using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD fused softmax cross-entropy over logits [rows, c] with one int32 class id per
/// row, the fast CPU twin of <see cref="Softmax.CrossEntropy"/> (same saved rowMax/logSum, same
/// label smoothing and ignore-index rules; targets already validated), rows split across cores.
/// </summary>
public static unsafe class CrossEntropySimd
{
    /// <summary>
    /// rowMax, logSum [rows] as the generated forward; returns scale * sum over rows of
    /// lse - (1 - eps) x[r, t] - (eps / c) sum_j x[r, j] (ignored rows add nothing), summed in double.
    /// </summary>
    public static float Forward(int rows, int c, float* x, int* targets, float* rowMax, float* logSum, float smoothing, int ignoreIndex, float scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(c, 1);
        var rowLoss = new double[rows];
        fixed (double* pl = rowLoss)
        {
            nint px = (nint)x, pt = (nint)targets, pm = (nint)rowMax, ps = (nint)logSum, ploss = (nint)pl;
            CpuParallel.ForRows(rows, c, (r0, count) =>
                ForwardRows(r0, count, c, (float*)px, (int*)pt, (float*)pm, (float*)ps, (double*)ploss, smoothing, ignoreIndex));
        }
        double total = 0;
        for (int r = 0; r < rows; r++) total += rowLoss[r];
        return (float)(scale * total);
    }

    /// <summary>dx [rows, c] = coefficient (softmax - (1 - eps) onehot - eps / c), 0 on ignored rows (coefficient = scale dy).</summary>
    public static void Backward(int rows, int c, float* x, int* targets, float* rowMax, float* logSum, float* dx, float smoothing, int ignoreIndex, float coefficient)
    {
        nint px = (nint)x, pt = (nint)targets, pm = (nint)rowMax, ps = (nint)logSum, pd = (nint)dx;
        CpuParallel.ForRows(rows, c, (r0, count) =>
            BackwardRows(r0, count, c, (float*)px, (int*)pt, (float*)pm, (float*)ps, (float*)pd, smoothing, ignoreIndex, coefficient));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows(int r0, int count, int c, float* x, int* targets, float* rowMax, float* logSum, double* rowLoss, float smoothing, int ignoreIndex)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            float* xr = x + (long)r * c;
            float max = RowSimd.Max(xr, c);
            float ls = MathF.Log(RowSimd.SumExp(xr, c, max, null));
            rowMax[r] = max;
            logSum[r] = ls;
            int t = targets[r];
            if (t == ignoreIndex)
            {
                rowLoss[r] = 0;
                continue;
            }
            float smoothTerm = smoothing != 0f ? smoothing / c * RowSimd.SumShifted(xr, c, max) : 0f;
            rowLoss[r] = ls + (1f - smoothing) * (max - xr[t]) - smoothTerm;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(int r0, int count, int c, float* x, int* targets, float* rowMax, float* logSum, float* dx, float smoothing, int ignoreIndex, float coefficient)
    {
        for (int r = r0; r < r0 + count; r++)
        {
            long o = (long)r * c;
            int t = targets[r];
            if (t == ignoreIndex)
            {
                new Span<float>(dx + o, c).Clear();
                continue;
            }
            float shift = rowMax[r], ls = logSum[r], offset = coefficient * (smoothing / c);
            int j = 0;
            if (Vector512.IsHardwareAccelerated) j = Gradient<V512>(x + o, dx + o, c, shift, ls, coefficient, offset);
            else if (Vector256.IsHardwareAccelerated) j = Gradient<V256>(x + o, dx + o, c, shift, ls, coefficient, offset);
            Gradient<V1>(x + o + j, dx + o + j, c - j, shift, ls, coefficient, offset);
            dx[o + t] -= coefficient * (1f - smoothing);
        }
    }

    /// <summary>Whole vectors of dx = coefficient exp((x - max) - logSum) - offset from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Gradient<V>(float* x, float* dx, int n, float max, float logSum, float coefficient, float offset) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        V vm = V.Splat(max), vl = V.Splat(logSum), vc = V.Splat(coefficient), vo = V.Splat(offset);
        for (; j <= n - w; j += w) V.Store(V.Fma(RowSimd.Exp(V.Load(x + j) - vm - vl), vc, V.Splat(0f) - vo), dx + j);
        return j;
    }
}
