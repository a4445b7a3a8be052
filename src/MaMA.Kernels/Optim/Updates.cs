using ILGPU;

namespace MaMA.Kernels.Optim;

/// <summary>
/// Fused optimizer updates over fp32 master parameters, one launch index per element. Each
/// kernel reads the gradient once and rewrites the parameter and its moment buffers in place,
/// in the same operation order as torch.optim so results agree to rounding.
/// Host code computes every step-dependent scalar (bias corrections, decay factors) in double.
/// </summary>
public static partial class Updates
{
    /// <summary>
    /// torch.optim.AdamW for one element:
    /// p *= decay (= 1 - lr wd); m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
    /// p -= stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps), stepSize = lr / (1 - beta1^t).
    /// </summary>
    [Kernel]
    private static void AdamWKernel(
        int i,
        [Extent("count")] ArrayView<float> param,
        [Extent("count")] ArrayView<float> grad,
        [Extent("count")] ArrayView<float> expAvg,
        [Extent("count")] ArrayView<float> expAvgSq,
        float decay,
        float beta1,
        float oneMinusBeta1,
        float beta2,
        float oneMinusBeta2,
        float biasCorrection2Sqrt,
        float eps,
        float negStepSize)
    {
        float g = grad[i];
        float p = param[i] * decay;
        float m = expAvg[i] * beta1 + oneMinusBeta1 * g;
        float v = expAvgSq[i] * beta2 + oneMinusBeta2 * (g * g);
        float denom = MathF.Sqrt(v) / biasCorrection2Sqrt + eps;
        expAvg[i] = m;
        expAvgSq[i] = v;
        param[i] = p + negStepSize * (m / denom);
    }

    /// <summary>
    /// torch.optim.SGD (nesterov off) for one element: d = g + wd p (coupled decay, skipped when
    /// wd == 0); mode 0 (momentum 0): p -= lr d, the buffer untouched; mode 1 (first update):
    /// buf = d; mode 2: buf = momentum buf + (1 - dampening) d; then p -= lr buf.
    /// </summary>
    [Kernel]
    private static void SgdMomentumKernel(
        int i,
        [Extent("count")] ArrayView<float> param,
        [Extent("count")] ArrayView<float> grad,
        [Extent("count")] ArrayView<float> momentumBuffer,
        float negLr,
        float momentum,
        float oneMinusDampening,
        float weightDecay,
        int mode)
    {
        float p = param[i];
        float d = grad[i];
        if (weightDecay != 0f) d = d + weightDecay * p;
        if (mode != 0)
        {
            d = mode == 1 ? d : momentumBuffer[i] * momentum + oneMinusDampening * d;
            momentumBuffer[i] = d;
        }
        param[i] = p + negLr * d;
    }
}
