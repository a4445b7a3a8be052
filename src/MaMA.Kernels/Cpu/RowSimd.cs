using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Reductions and maps over one contiguous fp32 row of n elements, the building blocks of the
/// row kernels (layer norm, softmax, cross-entropy, L2 normalisation). Each is written once over
/// <see cref="ISimd{TSelf}"/> and runs as Vector512 or Vector256 with a scalar tail. Reductions
/// keep two vector accumulators (two add chains in flight) and add the lanes and the tail in
/// double, so a row of 1374 elements loses no more than a Kahan-compensated scalar loop would
/// at fp32's 1e-4 tolerances.
/// </summary>
internal static unsafe class RowSimd
{
    /// <summary>Below this, ln of the smallest normal float, the exponential is flushed to zero, so -inf logits give exactly 0.</summary>
    private const float ExpFloor = -87.33655f;

    /// <summary>max_j p[j] (n &gt;= 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Max(float* p, int n)
    {
        if (Vector512.IsHardwareAccelerated) return Max<V512>(p, n);
        if (Vector256.IsHardwareAccelerated) return Max<V256>(p, n);
        return Max<V1>(p, n);
    }

    /// <summary>sum_j p[j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Sum(float* p, int n)
    {
        if (Vector512.IsHardwareAccelerated) return Sum<V512>(p, n);
        if (Vector256.IsHardwareAccelerated) return Sum<V256>(p, n);
        return Sum<V1>(p, n);
    }

    /// <summary>sum_j (p[j] - shift) (the centred sum, without the cancellation of sum - n shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumShifted(float* p, int n, float shift)
    {
        if (Vector512.IsHardwareAccelerated) return SumShifted<V512>(p, n, shift);
        if (Vector256.IsHardwareAccelerated) return SumShifted<V256>(p, n, shift);
        return SumShifted<V1>(p, n, shift);
    }

    /// <summary>sum_j (p[j] - mean)^2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumSquaredDeviation(float* p, int n, float mean)
    {
        if (Vector512.IsHardwareAccelerated) return SumSquaredDeviation<V512>(p, n, mean);
        if (Vector256.IsHardwareAccelerated) return SumSquaredDeviation<V256>(p, n, mean);
        return SumSquaredDeviation<V1>(p, n, mean);
    }

    /// <summary>sum_j a[j] b[j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* a, float* b, int n)
    {
        if (Vector512.IsHardwareAccelerated) return Dot<V512>(a, b, n);
        if (Vector256.IsHardwareAccelerated) return Dot<V256>(a, b, n);
        return Dot<V1>(a, b, n);
    }

    /// <summary>sum_j exp(p[j] - shift); with <paramref name="store"/> non-null each exponential is also written there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumExp(float* p, int n, float shift, float* store)
    {
        if (Vector512.IsHardwareAccelerated) return SumExp<V512>(p, n, shift, store);
        if (Vector256.IsHardwareAccelerated) return SumExp<V256>(p, n, shift, store);
        return SumExp<V1>(p, n, shift, store);
    }

    /// <summary>y[j] = x[j] * a (in place when y == x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale(float* x, int n, float a, float* y)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) i = Scale<V512>(x, n, a, y);
        else if (Vector256.IsHardwareAccelerated) i = Scale<V256>(x, n, a, y);
        Scale<V1>(x + i, n - i, a, y + i);
    }

    /// <summary>
    /// e^x of a shifted logit (x &lt;= 0: minus the row maximum or the log-sum-exp), with e^x = 0 below
    /// -87.34, where it would be subnormal (so -inf logits give exactly 0), and NaN kept.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Exp<V>(V x) where V : unmanaged, ISimd<V> =>
        V.Select(V.GreaterThan(V.Splat(ExpFloor), x), V.Splat(0f), SimdMath.ExpNonPositive(x));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Max<V>(float* p, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        float m = float.NegativeInfinity;
        if (n >= w)
        {
            V a0 = V.Load(p), a1 = a0;
            for (i = w; i <= n - 2 * w; i += 2 * w)
            {
                a0 = V.Max(a0, V.Load(p + i));
                a1 = V.Max(a1, V.Load(p + i + w));
            }
            if (i <= n - w)
            {
                a0 = V.Max(a0, V.Load(p + i));
                i += w;
            }
            m = V.MaxLanes(V.Max(a0, a1));
        }
        for (; i < n; i++) m = p[i] > m ? p[i] : m;
        return m;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Sum<V>(float* p, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V a0 = V.Splat(0f), a1 = a0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            a0 += V.Load(p + i);
            a1 += V.Load(p + i + w);
        }
        if (i <= n - w)
        {
            a0 += V.Load(p + i);
            i += w;
        }
        double s = V.SumLanes(a0 + a1);
        for (; i < n; i++) s += p[i];
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumShifted<V>(float* p, int n, float shift) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V vs = V.Splat(shift), a0 = V.Splat(0f), a1 = a0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            a0 += V.Load(p + i) - vs;
            a1 += V.Load(p + i + w) - vs;
        }
        if (i <= n - w)
        {
            a0 += V.Load(p + i) - vs;
            i += w;
        }
        double s = V.SumLanes(a0 + a1);
        for (; i < n; i++) s += p[i] - shift;
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumSquaredDeviation<V>(float* p, int n, float mean) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V vm = V.Splat(mean), a0 = V.Splat(0f), a1 = a0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            V d0 = V.Load(p + i) - vm, d1 = V.Load(p + i + w) - vm;
            a0 = V.Fma(d0, d0, a0);
            a1 = V.Fma(d1, d1, a1);
        }
        if (i <= n - w)
        {
            V d0 = V.Load(p + i) - vm;
            a0 = V.Fma(d0, d0, a0);
            i += w;
        }
        double s = V.SumLanes(a0 + a1);
        for (; i < n; i++)
        {
            float d = p[i] - mean;
            s += d * d;
        }
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot<V>(float* a, float* b, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V a0 = V.Splat(0f), a1 = a0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            a0 = V.Fma(V.Load(a + i), V.Load(b + i), a0);
            a1 = V.Fma(V.Load(a + i + w), V.Load(b + i + w), a1);
        }
        if (i <= n - w)
        {
            a0 = V.Fma(V.Load(a + i), V.Load(b + i), a0);
            i += w;
        }
        double s = V.SumLanes(a0 + a1);
        for (; i < n; i++) s += (double)a[i] * b[i];
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumExp<V>(float* p, int n, float shift, float* store) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V vs = V.Splat(shift), a0 = V.Splat(0f), a1 = a0;
        if (store != null)
        {
            for (; i <= n - 2 * w; i += 2 * w)
            {
                V e0 = Exp(V.Load(p + i) - vs), e1 = Exp(V.Load(p + i + w) - vs);
                V.Store(e0, store + i);
                V.Store(e1, store + i + w);
                a0 += e0;
                a1 += e1;
            }
        }
        else
        {
            for (; i <= n - 2 * w; i += 2 * w)
            {
                a0 += Exp(V.Load(p + i) - vs);
                a1 += Exp(V.Load(p + i + w) - vs);
            }
        }
        double s = V.SumLanes(a0 + a1);
        // The tail (under two vectors) through the scalar twin of the same formula.
        for (; i < n; i++)
        {
            float e = V1.SumLanes(Exp(V1.Load(p + i) - V1.Splat(shift)));
            if (store != null) store[i] = e;
            s += e;
        }
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Scale<V>(float* x, int n, float a, float* y) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        V va = V.Splat(a);
        for (; i <= n - w; i += w) V.Store(V.Load(x + i) * va, y + i);
        return i;
    }
}
