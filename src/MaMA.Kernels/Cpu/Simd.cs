using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// One fp32 SIMD register of some width, as static abstract members, so a formula is written once
/// and instantiated for <see cref="V512"/>, <see cref="V256"/> and the scalar <see cref="V1"/>
/// (used for tails and on hardware without vector acceleration). The JIT specialises every
/// generic method per struct, so there is no abstraction cost. All three give bit-identical
/// results for the same element: same operations, same fused multiply-adds, same rounding.
/// Masks are all-ones / all-zeros bit patterns in a float lane.
/// </summary>
internal unsafe interface ISimd<TSelf> where TSelf : unmanaged, ISimd<TSelf>
{
    static abstract int Count { get; }

    static abstract TSelf Load(float* p);

    static abstract void Store(TSelf v, float* p);

    static abstract TSelf Splat(float v);

    static abstract TSelf operator +(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf a, TSelf b);

    static abstract TSelf operator *(TSelf a, TSelf b);

    static abstract TSelf operator /(TSelf a, TSelf b);

    /// <summary>a * b + c with one rounding.</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);

    static abstract TSelf Abs(TSelf a);

    static abstract TSelf Min(TSelf a, TSelf b);

    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>Lane mask a &gt; b (false for NaN).</summary>
    static abstract TSelf GreaterThan(TSelf a, TSelf b);

    /// <summary>Lane mask a &gt;= b (false for NaN).</summary>
    static abstract TSelf GreaterThanOrEqual(TSelf a, TSelf b);

    static abstract TSelf And(TSelf a, TSelf b);

    /// <summary>mask ? a : b per lane.</summary>
    static abstract TSelf Select(TSelf mask, TSelf a, TSelf b);

    /// <summary>
    /// p * 2^n where the low bits of <paramref name="shifted"/> hold the integer n (shifted = n + 1.5 * 2^23 as a float);
    /// p must be a normal float whose exponent stays in range after the shift.
    /// </summary>
    static abstract TSelf ScaleByPow2(TSelf p, TSelf shifted);

    /// <summary>Sum of the lanes (a row reduction's last step).</summary>
    static abstract float SumLanes(TSelf a);

    /// <summary>Largest lane (with a NaN lane the result may be NaN; rows holding NaN give NaN anyway).</summary>
    static abstract float MaxLanes(TSelf a);
}

internal readonly unsafe struct V512 : ISimd<V512>
{
    private readonly Vector512<float> _v;

    private V512(Vector512<float> v) => _v = v;

    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Load(float* p) => new(Vector512.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V512 v, float* p) => Vector512.Store(v._v, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Splat(float v) => new(Vector512.Create(v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator +(V512 a, V512 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator -(V512 a, V512 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator *(V512 a, V512 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator /(V512 a, V512 b) => new(a._v / b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Fma(V512 a, V512 b, V512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Abs(V512 a) => new(Vector512.Abs(a._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Min(V512 a, V512 b) => new(Vector512.MinNative(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Max(V512 a, V512 b) => new(Vector512.MaxNative(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 GreaterThan(V512 a, V512 b) => new(Vector512.GreaterThan(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 GreaterThanOrEqual(V512 a, V512 b) => new(Vector512.GreaterThanOrEqual(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 And(V512 a, V512 b) => new(a._v & b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Select(V512 mask, V512 a, V512 b) => new(Vector512.ConditionalSelect(mask._v, a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ScaleByPow2(V512 p, V512 shifted) =>
        new((p._v.AsInt32() + Vector512.ShiftLeft(shifted._v.AsInt32(), 23)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumLanes(V512 a) => Vector512.Sum(a._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxLanes(V512 a) => V256.MaxLanes(new V256(Vector256.Max(a._v.GetLower(), a._v.GetUpper())));
}

internal readonly unsafe struct V256 : ISimd<V256>
{
    private readonly Vector256<float> _v;

    internal V256(Vector256<float> v) => _v = v;

    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Load(float* p) => new(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V256 v, float* p) => Vector256.Store(v._v, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Splat(float v) => new(Vector256.Create(v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator +(V256 a, V256 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator -(V256 a, V256 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator *(V256 a, V256 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator /(V256 a, V256 b) => new(a._v / b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Fma(V256 a, V256 b, V256 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Abs(V256 a) => new(Vector256.Abs(a._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Min(V256 a, V256 b) => new(Vector256.MinNative(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Max(V256 a, V256 b) => new(Vector256.MaxNative(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 GreaterThan(V256 a, V256 b) => new(Vector256.GreaterThan(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 GreaterThanOrEqual(V256 a, V256 b) => new(Vector256.GreaterThanOrEqual(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 And(V256 a, V256 b) => new(a._v & b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Select(V256 mask, V256 a, V256 b) => new(Vector256.ConditionalSelect(mask._v, a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ScaleByPow2(V256 p, V256 shifted) =>
        new((p._v.AsInt32() + Vector256.ShiftLeft(shifted._v.AsInt32(), 23)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumLanes(V256 a) => Vector256.Sum(a._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxLanes(V256 a)
    {
        float m = a._v.GetElement(0);
        for (int i = 1; i < Vector256<float>.Count; i++)
        {
            float v = a._v.GetElement(i);
            m = v > m ? v : m;
        }
        return m;
    }
}

/// <summary>One lane: the scalar twin of the vector structs (tails, no SIMD hardware).</summary>
internal readonly unsafe struct V1 : ISimd<V1>
{
    private readonly float _v;

    private V1(float v) => _v = v;

    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Load(float* p) => new(*p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V1 v, float* p) => *p = v._v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Splat(float v) => new(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator +(V1 a, V1 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator -(V1 a, V1 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator *(V1 a, V1 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator /(V1 a, V1 b) => new(a._v / b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Fma(V1 a, V1 b, V1 c) => new(MathF.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Abs(V1 a) => new(MathF.Abs(a._v));

    // Same operand order as x86 minps/maxps (what MinNative/MaxNative compile to): the second operand wins on NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Min(V1 a, V1 b) => new(a._v < b._v ? a._v : b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Max(V1 a, V1 b) => new(a._v > b._v ? a._v : b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 GreaterThan(V1 a, V1 b) => Mask(a._v > b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 GreaterThanOrEqual(V1 a, V1 b) => Mask(a._v >= b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 And(V1 a, V1 b) => new(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a._v) & BitConverter.SingleToInt32Bits(b._v)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Select(V1 mask, V1 a, V1 b) => BitConverter.SingleToInt32Bits(mask._v) != 0 ? a : b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 ScaleByPow2(V1 p, V1 shifted) =>
        new(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(p._v) + (BitConverter.SingleToInt32Bits(shifted._v) << 23)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumLanes(V1 a) => a._v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxLanes(V1 a) => a._v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V1 Mask(bool m) => new(BitConverter.Int32BitsToSingle(m ? -1 : 0));
}

/// <summary>Transcendentals on <see cref="ISimd{TSelf}"/>.</summary>
internal static class SimdMath
{
    private const float Log2E = 1.44269504088896341f;

    // ln 2 split so that n * Ln2Hi is exact for |n| <= 2^8.
    private const float Ln2Hi = 0.693145751953125f;
    private const float Ln2Lo = 1.42860682030941723212e-6f;

    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    private const float RoundMagic = 12582912f;

    // ln of the largest finite float: e^x overflows above it.
    private const float LnMaxFloat = 88.72284f;

    /// <summary>
    /// e^x for any x, relative error ~2 ulp: +inf above ln(float.MaxValue) (so e^+inf = +inf, as
    /// MathF.Exp and the generated kernels give; tanh GELU's x / (1 + e) then reaches its limit), NaN
    /// kept, e^88 ~ 1.7e38 standing in between 88 and 88.72. Below -87 it gives e^-87 ~ 1.6e-38, not 0.
    /// Shifted logits (never above 0) take <see cref="ExpNonPositive{V}"/>, without the overflow test;
    /// where sums must see exact zeros the callers flush (<c>RowSimd.Exp</c>, <c>AttentionCpu.ExpFlush</c>,
    /// GELU's density). A flush in here, for every caller, cost the exact GELU 8% (docs/benchmarks.md).
    /// Range reduction x = n ln2 + r, |r| &lt;= ln2 / 2, then the degree-7 Taylor polynomial of e^r.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Exp<V>(V x) where V : unmanaged, ISimd<V>
    {
        // Max/Min return their second operand on NaN, so x goes second to keep NaN.
        V e = ExpNonPositive(V.Min(V.Splat(88f), x));
        return V.Select(V.GreaterThan(x, V.Splat(LnMaxFloat)), V.Splat(float.PositiveInfinity), e);
    }

    /// <summary><see cref="Exp{V}"/> for arguments known to be at most 88 (no overflow test), e.g. -z^2 + small terms; e^-87 below -87.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V ExpNonPositive<V>(V x) where V : unmanaged, ISimd<V>
    {
        x = V.Max(V.Splat(-87f), x);
        V shifted = V.Fma(x, V.Splat(Log2E), V.Splat(RoundMagic));
        V n = shifted - V.Splat(RoundMagic);
        V r = V.Fma(n, V.Splat(-Ln2Hi), x);
        r = V.Fma(n, V.Splat(-Ln2Lo), r);
        V p = V.Fma(V.Splat(1f / 5040f), r, V.Splat(1f / 720f));
        p = V.Fma(p, r, V.Splat(1f / 120f));
        p = V.Fma(p, r, V.Splat(1f / 24f));
        p = V.Fma(p, r, V.Splat(1f / 6f));
        p = V.Fma(p, r, V.Splat(0.5f));
        p = V.Fma(p, r, V.Splat(1f));
        p = V.Fma(p, r, V.Splat(1f));
        return V.ScaleByPow2(p, shifted);
    }
}
