using ILGPU;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// Pointwise activations and their derivatives; one launch index per element, n elements.
/// Shapes are irrelevant here: callers pass contiguous fp32 buffers of n elements.
/// </summary>
public static partial class Activations
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;
    private const float Sqrt2OverPi = 0.79788456080286536f;
    private const float GeluTanhCoeff = 0.044715f;

    /// <summary>y = max(x, 0).</summary>
    [Kernel]
    private static void ReluForwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y)
    {
        float v = x[i];
        y[i] = v > 0f ? v : 0f;
    }

    /// <summary>dx = dy * (x &gt; 0).</summary>
    [Kernel]
    private static void ReluBackwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dx)
    {
        dx[i] = x[i] > 0f ? dy[i] : 0f;
    }

    /// <summary>Exact GELU (ViT MLP): y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).</summary>
    [Kernel]
    private static void GeluErfForwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = GeluErf(x[i]);
    }

    /// <summary>dGELU/dx = Phi(x) + x phi(x).</summary>
    [Kernel]
    private static void GeluErfBackwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dx)
    {
        dx[i] = dy[i] * GeluErfSlope(x[i]);
    }

    /// <summary>GPT-2 "gelu_new": y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    [Kernel]
    private static void GeluTanhForwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = GeluTanh(x[i]);
    }

    /// <summary>Derivative of the tanh form (<see cref="GeluTanhSlope"/>).</summary>
    [Kernel]
    private static void GeluTanhBackwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dx)
    {
        dx[i] = dy[i] * GeluTanhSlope(x[i]);
    }

    // The formulas, shared with the fused bias + GELU kernels (BiasGelu.cs) so both give the same values.

    /// <summary>x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).</summary>
    private static float GeluErf(float v) => 0.5f * v * (1f + Erf(v * InvSqrt2));

    /// <summary>Phi(x) + x phi(x).</summary>
    private static float GeluErfSlope(float v)
    {
        float cdf = 0.5f * (1f + Erf(v * InvSqrt2));
        float pdf = InvSqrt2Pi * MathF.Exp(-0.5f * v * v);
        return cdf + v * pdf;
    }

    /// <summary>
    /// 0.5 x (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3), formed as x / (1 + e^-2u) (0.5 (1 + tanh u)
    /// is the logistic of 2u), as the fast CPU backend forms it. Not through <c>MathF.Tanh</c>: ILGPU
    /// compiles that to PTX's <c>tanh.approx.f32</c> on sm_75 and newer (relative error about 2^-11,
    /// far outside the fp32 budget), and 1 + tanh u cancels for very negative x, where an OpenCL tanh
    /// one ulp above -1 (PoCL's) gave 0.5 x 2^-24 = -3e12 at x = -1e20 instead of -0.
    /// </summary>
    private static float GeluTanh(float v)
    {
        float e = MathF.Exp(MinusTwoU(v));
        return v / (1f + e);
    }

    /// <summary>
    /// d/dx: with s = 1 / (1 + e), e = e^-2u, 1 - s = e s and 1 - tanh^2 u = 4 s (1 - s), so the slope
    /// is s + 2 x s (1 - s) u', u' = sqrt(2/pi) (1 + 3 c x^2). Once e overflows (x below about -9)
    /// e s is inf times 0, and 1 - s is 1.
    /// </summary>
    private static float GeluTanhSlope(float v)
    {
        float e = MathF.Exp(MinusTwoU(v));
        float s = 1f / (1f + e);
        float oneMinusS = e > float.MaxValue ? 1f : e * s;
        float du = 3f * GeluTanhCoeff * Sqrt2OverPi * (v * v) + Sqrt2OverPi;
        return (v + v) * s * (oneMinusS * du) + s;
    }

    /// <summary>-2u = -2 sqrt(2/pi) x (1 + 0.044715 x^2).</summary>
    private static float MinusTwoU(float v) => v * (-2f * Sqrt2OverPi * GeluTanhCoeff * (v * v) - 2f * Sqrt2OverPi);

    /// <summary>
    /// erf with max abs error ~1.2e-7 (Numerical Recipes erfc Chebyshev fit), identical on every
    /// device so CPU and GPU results agree bit for bit up to exp().
    /// </summary>
    private static float Erf(float x)
    {
        float z = MathF.Abs(x);
        float t = 1f / (1f + 0.5f * z);
        float r = t * MathF.Exp(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
                  t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
                  t * (-0.82215223f + t * 0.17087277f)))))))));
        return x >= 0f ? 1f - r : r - 1f;
    }
}
