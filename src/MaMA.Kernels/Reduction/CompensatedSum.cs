namespace MaMA.Kernels;

/// <summary>
/// Kahan-compensated fp32 sums in kernels: after t = sum + v, the carry (t - sum) - v is what the
/// addition lost. Once t is infinite (an infinite term, or finite terms whose sum overflows) that
/// carry is inf - inf = NaN and would turn the sum into NaN, where a plain sum (and the CPU backend,
/// and PyTorch) gives the infinity; the carry is then 0. A NaN term still makes the sum NaN.
/// </summary>
public static class CompensatedSum
{
    /// <summary>The carry of <paramref name="t"/> = <paramref name="sum"/> + <paramref name="v"/>: (t - sum) - v, or 0 when t is not finite.</summary>
    public static float Carry(float t, float sum, float v) => float.IsNaN(t) || float.IsInfinity(t) ? 0f : (t - sum) - v;
}
