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

    /// <summary>Derivative of the tanh form: 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2).</summary>
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

    /// <summary>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    private static float GeluTanh(float v)
    {
        float t = MathF.Tanh(Sqrt2OverPi * (v + GeluTanhCoeff * v * v * v));
        return 0.5f * v * (1f + t);
    }

    /// <summary>0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2).</summary>
    private static float GeluTanhSlope(float v)
    {
        float t = MathF.Tanh(Sqrt2OverPi * (v + GeluTanhCoeff * v * v * v));
        float dInner = Sqrt2OverPi * (1f + 3f * GeluTanhCoeff * v * v);
        return 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * dInner;
    }

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
