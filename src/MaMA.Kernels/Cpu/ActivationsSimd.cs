using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Hand-written SIMD activations for the fast CPU backend: ReLU and both GELU forms, forward and
/// backward, on contiguous fp32 buffers of n elements, in 64K-element chunks across cores.
/// Each formula is written once over <see cref="ISimd{TSelf}"/> and runs as Vector512 (when
/// accelerated) or Vector256, with the same formula on the scalar tail. The ILGPU kernels in
/// <c>Elementwise/Activations.cs</c> compute the same functions; these are the CPU twins, arranged
/// to avoid cancellation (GELU's CDF is formed directly instead of as 1 + erf).
/// </summary>
public static unsafe partial class ActivationsSimd
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;
    private const float Sqrt2OverPi = 0.79788456080286536f;
    private const float GeluTanhCoeff = 0.044715f;

    /// <summary>y = x &gt; 0 ? x : 0.</summary>
    public static void ReluForward(int n, float* x, float* y) => Map(n, x, null, y, Kind.ReluForward);

    /// <summary>dx = x &gt; 0 ? dy : 0.</summary>
    public static void ReluBackward(int n, float* x, float* dy, float* dx) => Map(n, x, dy, dx, Kind.ReluBackward);

    /// <summary>Exact GELU: y = x Phi(x).</summary>
    public static void GeluErfForward(int n, float* x, float* y) => Map(n, x, null, y, Kind.GeluErfForward);

    /// <summary>dx = dy (Phi(x) + x phi(x)).</summary>
    public static void GeluErfBackward(int n, float* x, float* dy, float* dx) => Map(n, x, dy, dx, Kind.GeluErfBackward);

    /// <summary>tanh GELU: y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).</summary>
    public static void GeluTanhForward(int n, float* x, float* y) => Map(n, x, null, y, Kind.GeluTanhForward);

    /// <summary>dx = dy d/dx[0.5 x (1 + tanh(u))].</summary>
    public static void GeluTanhBackward(int n, float* x, float* dy, float* dx) => Map(n, x, dy, dx, Kind.GeluTanhBackward);

    private enum Kind
    {
        ReluForward,
        ReluBackward,
        GeluErfForward,
        GeluErfBackward,
        GeluTanhForward,
        GeluTanhBackward,
    }

    private static void Map(int n, float* x, float* dy, float* y, Kind kind)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        nint px = (nint)x, pg = (nint)dy, py = (nint)y;
        CpuParallel.For(n, CpuParallel.ElementChunk, (start, length) =>
            Chunk((float*)px + start, pg == 0 ? null : (float*)pg + start, (float*)py + start, (int)length, kind));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk(float* x, float* g, float* y, int n, Kind kind)
    {
        switch (kind)
        {
            case Kind.ReluForward: Run<ReluF>(x, g, y, n); break;
            case Kind.ReluBackward: Run<ReluB>(x, g, y, n); break;
            case Kind.GeluErfForward: Run<GeluErfF>(x, g, y, n); break;
            case Kind.GeluErfBackward: Run<GeluErfB>(x, g, y, n); break;
            case Kind.GeluTanhForward: Run<GeluTanhF>(x, g, y, n); break;
            default: Run<GeluTanhB>(x, g, y, n); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TOp>(float* x, float* g, float* y, int n) where TOp : struct, IPointwise
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) i = Loop<TOp, V512>(x, g, y, n);
        else if (Vector256.IsHardwareAccelerated) i = Loop<TOp, V256>(x, g, y, n);
        Loop<TOp, V1>(x + i, g == null ? null : g + i, y + i, n - i);
    }

    /// <summary>Processes whole vectors from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Loop<TOp, V>(float* x, float* g, float* y, int n) where TOp : struct, IPointwise where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        if (TOp.UsesGradient)
            for (; i <= n - w; i += w) V.Store(TOp.Apply(V.Load(x + i), V.Load(g + i)), y + i);
        else
            for (; i <= n - w; i += w) V.Store(TOp.Apply(V.Load(x + i), default), y + i);
        return i;
    }

    private interface IPointwise
    {
        static abstract bool UsesGradient { get; }

        static abstract V Apply<V>(V x, V g) where V : unmanaged, ISimd<V>;
    }

    private struct ReluF : IPointwise
    {
        public static bool UsesGradient => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V g) where V : unmanaged, ISimd<V> => V.And(V.GreaterThan(x, V.Splat(0f)), x);
    }

    private struct ReluB : IPointwise
    {
        public static bool UsesGradient => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V g) where V : unmanaged, ISimd<V> => V.And(V.GreaterThan(x, V.Splat(0f)), g);
    }

    private struct GeluErfF : IPointwise
    {
        public static bool UsesGradient => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V g) where V : unmanaged, ISimd<V> => x * Cdf(x);
    }

    private struct GeluErfB : IPointwise
    {
        public static bool UsesGradient => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V g) where V : unmanaged, ISimd<V>
        {
            V halfSquare = V.Splat(-0.5f) * x * x;
            // phi(x) = 0 once e^(-x^2/2) is below the normal floats (|x| > 13.2): the exp's e^-87 stand-in
            // times a huge x would give slopes such as -6.6e-19 at x = -1e20 instead of 0.
            V pdf = V.Select(V.GreaterThan(V.Splat(-87.33655f), halfSquare), V.Splat(0f), V.Splat(InvSqrt2Pi) * SimdMath.ExpNonPositive(halfSquare));
            return g * V.Fma(x, pdf, Cdf(x));
        }
    }

    private struct GeluTanhF : IPointwise
    {
        public static bool UsesGradient => false;

        // 0.5 (1 + tanh u) = 1 / (1 + e^-2u): no cancellation for very negative x.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V g) where V : unmanaged, ISimd<V>
        {
            V e = SimdMath.Exp(MinusTwoU(x));
            return x / (V.Splat(1f) + e);
        }
    }

    private struct GeluTanhB : IPointwise
    {
        public static bool UsesGradient => true;

        // With s = 0.5 (1 + tanh u) = 1 / (1 + e), e = e^-2u: 1 - s = e s and 1 - tanh^2 u = 4 s (1 - s), so
        // d/dx = s + 0.5 x (1 - tanh^2 u) u' = s + 2 x s (e s) u', u' = sqrt(2/pi) (1 + 3 c x^2).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V g) where V : unmanaged, ISimd<V>
        {
            V e = SimdMath.Exp(MinusTwoU(x));
            V s = V.Splat(1f) / (V.Splat(1f) + e);
            // 1 - s = e s, which is inf * 0 once e overflows (x below about -9): there 1 - s is 1.
            V oneMinusS = V.Select(V.GreaterThan(e, V.Splat(float.MaxValue)), V.Splat(1f), e * s);
            V x2 = x * x;
            V du = V.Fma(V.Splat(3f * GeluTanhCoeff * Sqrt2OverPi), x2, V.Splat(Sqrt2OverPi));
            V twoX = x + x;
            return g * V.Fma(twoX * s, oneMinusS * du, s);
        }
    }

    /// <summary>-2u = -2 sqrt(2/pi) x (1 + 0.044715 x^2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V MinusTwoU<V>(V x) where V : unmanaged, ISimd<V>
    {
        V inner = V.Fma(V.Splat(-2f * Sqrt2OverPi * GeluTanhCoeff), x * x, V.Splat(-2f * Sqrt2OverPi));
        return x * inner;
    }

    /// <summary>
    /// Phi(x) = 0.5 erfc(-x / sqrt 2), from the Numerical Recipes erfc fit (fractional error &lt; 1.2e-7,
    /// the same fit the ILGPU kernels use): erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), z &gt;= 0.
    /// Formed as 1 - erfc/2 or erfc/2 by sign, so the negative tail keeps its relative accuracy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V Cdf<V>(V x) where V : unmanaged, ISimd<V>
    {
        V z = V.Abs(x) * V.Splat(InvSqrt2);
        V t = V.Splat(1f) / V.Fma(z, V.Splat(0.5f), V.Splat(1f));
        V p = V.Fma(t, V.Splat(0.17087277f), V.Splat(-0.82215223f));
        p = V.Fma(p, t, V.Splat(1.48851587f));
        p = V.Fma(p, t, V.Splat(-1.13520398f));
        p = V.Fma(p, t, V.Splat(0.27886807f));
        p = V.Fma(p, t, V.Splat(-0.18628806f));
        p = V.Fma(p, t, V.Splat(0.09678418f));
        p = V.Fma(p, t, V.Splat(0.37409196f));
        p = V.Fma(p, t, V.Splat(1.00002368f));
        // The fit's constant -1.26551223 with ln(1/2) folded in: exp(...) is erfc / (2 t).
        p = V.Fma(p, t, V.Splat(-1.26551223f - 0.69314718f));
        V halfErfc = t * SimdMath.ExpNonPositive(p - z * z);
        return V.Select(V.GreaterThanOrEqual(x, V.Splat(0f)), V.Splat(1f) - halfErfc, halfErfc);
    }
}
