using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using UpdateKernels = MaMA.Kernels.Optim.Updates;

namespace MaMA.Engine.Optim;

/// <summary>
/// torch.optim.SGD with momentum (nesterov off, maximize off) and coupled weight decay per group:
/// d = g + wd p; buf = d on a parameter's first update, else buf = momentum buf + (1 - dampening) d;
/// p -= lr buf. With momentum 0 there is no buffer and p -= lr d. State slot "momentum_buffer".
/// </summary>
public sealed class SgdMomentum : Optimizer
{
    private static readonly string[] MomentumSlots = ["momentum_buffer"];

    public SgdMomentum(IEnumerable<ParamGroup> groups, double momentum = 0.9, double dampening = 0.0)
        : base(groups)
    {
        if (!(momentum >= 0.0)) throw new ArgumentOutOfRangeException(nameof(momentum), $"Invalid momentum {momentum}.");
        if (double.IsNaN(dampening)) throw new ArgumentOutOfRangeException(nameof(dampening), "Dampening is NaN.");
        Momentum = momentum;
        Dampening = dampening;
    }

    /// <summary>One group over <paramref name="parameters"/>.</summary>
    public SgdMomentum(IEnumerable<Parameter> parameters, double learningRate, double momentum = 0.9, double weightDecay = 0.0, double dampening = 0.0)
        : this([new ParamGroup(parameters, learningRate, weightDecay)], momentum, dampening)
    {
    }

    public double Momentum { get; }

    public double Dampening { get; }

    protected override IReadOnlyList<string> Slots => Momentum != 0.0 ? MomentumSlots : [];

    protected override unsafe void Update(ParamGroup group, Parameter p, Tensor grad, ParamState state)
    {
        int n = checked((int)p.Numel);
        if (n == 0) return;
        // mode 0: no momentum (the buffer argument is unused), 1: first update (buf = d), 2: buf = momentum buf + (1 - dampening) d.
        int mode = Momentum == 0.0 ? 0 : state.Step == 1 ? 1 : 2;
        Tensor buf = mode == 0 ? p : state.Buffers["momentum_buffer"];
        float negLr = (float)-group.LearningRate;
        float momentum = (float)Momentum, oneMinusDampening = (float)(1.0 - Dampening), wd = (float)group.WeightDecay;
        Dispatch.Run(p.Device,
            cpu: () => UpdateKernels.SgdMomentum.RunCpu(n, p.Ptr<float>(), grad.Ptr<float>(), buf.Ptr<float>(), negLr, momentum, oneMinusDampening, wd, mode),
            ilgpu: s => UpdateKernels.SgdMomentum.Launch(s, n, p.View<float>(), grad.View<float>(), buf.View<float>(), negLr, momentum, oneMinusDampening, wd, mode));
    }
}
