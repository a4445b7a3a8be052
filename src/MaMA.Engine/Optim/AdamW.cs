using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using UpdateKernels = MaMA.Kernels.Optim.Updates;

namespace MaMA.Engine.Optim;

/// <summary>
/// torch.optim.AdamW (amsgrad off, maximize off) with decoupled weight decay per group:
/// p *= 1 - lr wd; m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
/// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), t per parameter.
/// One fused kernel per parameter; state slots "exp_avg" and "exp_avg_sq".
/// </summary>
public sealed class AdamW : Optimizer
{
    private static readonly string[] SlotNames = ["exp_avg", "exp_avg_sq"];

    public AdamW(IEnumerable<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : base(groups)
    {
        if (!(beta1 >= 0.0 && beta1 < 1.0)) throw new ArgumentOutOfRangeException(nameof(beta1), $"Invalid beta1 {beta1} (0 <= beta1 < 1).");
        if (!(beta2 >= 0.0 && beta2 < 1.0)) throw new ArgumentOutOfRangeException(nameof(beta2), $"Invalid beta2 {beta2} (0 <= beta2 < 1).");
        if (!(eps >= 0.0)) throw new ArgumentOutOfRangeException(nameof(eps), $"Invalid eps {eps}.");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    /// <summary>One group over <paramref name="parameters"/>.</summary>
    public AdamW(IEnumerable<Parameter> parameters, double learningRate = 1e-3, double weightDecay = 1e-2, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : this([new ParamGroup(parameters, learningRate, weightDecay)], beta1, beta2, eps)
    {
    }

    public double Beta1 { get; }

    public double Beta2 { get; }

    public double Eps { get; }

    protected override IReadOnlyList<string> Slots => SlotNames;

    protected override unsafe void Update(ParamGroup group, Parameter p, Tensor grad, ParamState state)
    {
        int n = checked((int)p.Numel);
        if (n == 0) return;
        double lr = group.LearningRate;
        float decay = (float)(1.0 - lr * group.WeightDecay);
        double biasCorrection1 = 1.0 - Math.Pow(Beta1, state.Step);
        double biasCorrection2 = 1.0 - Math.Pow(Beta2, state.Step);
        float bc2Sqrt = (float)Math.Sqrt(biasCorrection2);
        float negStepSize = (float)(-lr / biasCorrection1);
        float beta1 = (float)Beta1, oneMinusBeta1 = (float)(1.0 - Beta1);
        float beta2 = (float)Beta2, oneMinusBeta2 = (float)(1.0 - Beta2);
        float eps = (float)Eps;
        Tensor m = state.Buffers["exp_avg"], v = state.Buffers["exp_avg_sq"];
        Dispatch.Run(p.Device,
            cpu: () => UpdateKernels.AdamW.RunCpu(n, p.Ptr<float>(), grad.Ptr<float>(), m.Ptr<float>(), v.Ptr<float>(),
                decay, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, negStepSize),
            ilgpu: s => UpdateKernels.AdamW.Launch(s, n, p.View<float>(), grad.View<float>(), m.View<float>(), v.View<float>(),
                decay, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, negStepSize));
    }
}
