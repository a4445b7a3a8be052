using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using ScaledResidualKernels = MaMA.Kernels.Elementwise.ScaledResidual;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// residual + gamma (branch + bias): a transformer block's residual update through LayerScale
    /// (DINOv2's <c>x + ls(proj(...))</c>), where branch is the bias-free product of the branch's
    /// last linear layer. residual and branch [..., C] (same shape), bias and gamma [C]; returns fp32
    /// [..., C], equal to <c>Add(residual, Mul(Add(branch, bias), gamma))</c> bit for bit on the CPU
    /// and the simulator. A null <paramref name="gamma"/> is no scale (GPT-2's
    /// <c>x + c_proj(...)</c>): <c>Add(residual, Add(branch, bias))</c>.
    /// <para>
    /// Unfused, that is three passes over [rows, C] and two intermediates; here one pass reads
    /// residual and branch and writes the sum. gamma's gradient needs branch + bias: recomputed in
    /// the backward from the saved branch, or, inside a bf16 autocast scope, read from a bf16 copy
    /// the forward's pass writes (what the unfused multiply keeps, <see cref="Autocast.KeepForBackward"/>).
    /// </para>
    /// Gradients: residual's is dz; branch's dz gamma, bias's its sum over rows; gamma's the sum over
    /// rows of dz (branch + bias).
    /// </summary>
    public static unsafe Tensor ScaledResidual(Tensor residual, Tensor branch, Tensor bias, Tensor? gamma)
    {
        ArgumentNullException.ThrowIfNull(residual);
        ArgumentNullException.ThrowIfNull(branch);
        ArgumentNullException.ThrowIfNull(bias);
        const string Name = "scaled_residual";
        Tensor[] inputs = gamma is null ? [residual, branch, bias] : [residual, branch, bias, gamma];
        Dispatch.SameDevice(Name, inputs);
        foreach (Tensor t in inputs) Dispatch.RequireFloat(Name, t);
        if (residual.Rank == 0 || !Shape.SameShape(residual.Shape, branch.Shape) || bias.Rank != 1 || bias.Shape[0] != residual.Shape[^1]
            || gamma is not null && (gamma.Rank != 1 || gamma.Shape[0] != residual.Shape[^1]))
            throw new ArgumentException($"{Name}: residual and branch must be the same [..., C], bias and gamma [C]; got residual {Shape.Format(residual.Shape)}, "
                + $"branch {Shape.Format(branch.Shape)}, bias {Shape.Format(bias.Shape)}, gamma {(gamma is null ? "none" : Shape.Format(gamma.Shape))}.");
        using var scope = new TempScope();
        Tensor rf = scope.F32(residual), yf = Dispatch.F32(branch), bf = Dispatch.F32(bias);
        Tensor? gf = gamma is null ? null : scope.F32(gamma);
        int c = bias.Shape[0], count = checked((int)yf.Numel), rows = c == 0 ? 0 : count / c;
        bool record = GradMode.ShouldRecord(inputs);
        bool needPre = record && gamma is { RequiresGrad: true };
        Tensor? pre16 = needPre && Autocast.IsEnabled ? Tensor.Empty(yf.Shape, DType.BFloat16, yf.Device) : null;
        Tensor z = Tensor.Empty(yf.Shape, DType.Float32, yf.Device);
        if (count > 0)
            Dispatch.Run(z.Device,
                cpu: () => ScaledResidualSimd.Forward(rows, c, rf.Ptr<float>(), yf.Ptr<float>(), bf.Ptr<float>(), gf is null ? null : gf.Ptr<float>(),
                    z.Ptr<float>(), pre16 is null ? null : pre16.Ptr<ushort>()),
                ilgpu: s =>
                {
                    // Without gamma the kernel takes the bias in its place, unread (hasGamma 0).
                    if (pre16 is null)
                        ScaledResidualKernels.Forward.Launch(s, count, rf.View<float>(), yf.View<float>(), bf.View<float>(), (gf ?? bf).View<float>(),
                            z.View<float>(), c, gf is null ? 0 : 1);
                    else
                        ScaledResidualKernels.ForwardKeepBf16.Launch(s, count, rf.View<float>(), yf.View<float>(), bf.View<float>(), gf!.View<float>(),
                            z.View<float>(), pre16.View<ushort>(), c);
                });
        // The fp32 branch and bias stay for gamma's gradient only when no bf16 copy replaces them.
        bool keepFp32 = needPre && pre16 is null;
        if (!keepFp32)
        {
            if (!ReferenceEquals(yf, branch)) yf.Dispose();
            if (!ReferenceEquals(bf, bias)) bf.Dispose();
        }
        if (!record) return z;
        var node = new ScaledResidualNode(inputs, gamma, keepFp32 ? yf : null, keepFp32 ? bf : null, pre16);
        node.Owning(pre16, keepFp32 ? Node.IfCopy(yf, branch) : null, keepFp32 ? Node.IfCopy(bf, bias) : null);
        return GradMode.RecordIfNeeded(z, node);
    }

    /// <summary>
    /// Inputs residual, branch, bias (and gamma when given). Saves gamma (for branch's gradient) and,
    /// when gamma trains, fp32 branch and bias or the bf16 branch + bias.
    /// </summary>
    private sealed class ScaledResidualNode(Tensor[] inputs, Tensor? gamma, Tensor? yf, Tensor? bf, Tensor? pre16) : Node(inputs)
    {
        private readonly int[] _channels = [.. inputs[2].Shape];

        public override string Name => gamma is null ? "bias_residual" : "scaled_residual";

        public override unsafe Tensor?[] Backward(Tensor dz)
        {
            Edge r = Edges[0], y = Edges[1], b = Edges[2];
            bool gammaTrains = gamma is not null && Edges[3].RequiresGrad;
            // Without a scale branch's gradient is dz itself, as an add passes it on.
            Tensor? dBranch = !(y.RequiresGrad || b.RequiresGrad) ? null : gamma is null ? dz : Mul(dz, gamma);
            Tensor? dBias = b.RequiresGrad ? SumTo(dBranch!, _channels) : null;
            Tensor? dGamma = null;
            if (gammaTrains)
            {
                Tensor terms = GammaTerms(dz);
                dGamma = SumTo(terms, _channels);
                if (!ReferenceEquals(dGamma, terms)) terms.Dispose();
            }
            if (!y.RequiresGrad && dBranch is not null && !ReferenceEquals(dBranch, dBias) && !ReferenceEquals(dBranch, dz)) dBranch.Dispose();
            Tensor?[] grads = [r.RequiresGrad ? dz : null, y.RequiresGrad ? dBranch : null, dBias];
            return gamma is null ? grads : [.. grads, dGamma];
        }

        /// <summary>dz (branch + bias) [..., C], to be summed over rows.</summary>
        private unsafe Tensor GammaTerms(Tensor dz)
        {
            // On the CPU the bf16 copy goes through the broadcast multiply (widened first), as the unfused op's backward does.
            if (pre16 is not null && dz.Device.IsCpu) return Mul(dz, pre16);
            using var scope = new TempScope();
            Tensor d = scope.F32(dz);
            Tensor terms = Tensor.Empty(d.Shape, DType.Float32, d.Device);
            int count = checked((int)d.Numel), c = _channels[0], rows = c == 0 ? 0 : count / c;
            if (count == 0) return terms;
            if (pre16 is not null)
            {
                Dispatch.Run(d.Device,
                    cpu: () => throw new InvalidOperationException("Internal error: the CPU takes the multiply above."),
                    ilgpu: s => ScaledResidualKernels.GammaTermsFromBf16.Launch(s, count, d.View<float>(), pre16.View<ushort>(), terms.View<float>()));
                return terms;
            }
            Tensor ys = yf!, bs = bf!;
            Dispatch.Run(d.Device,
                cpu: () => ScaledResidualSimd.GammaTerms(rows, c, d.Ptr<float>(), ys.Ptr<float>(), bs.Ptr<float>(), terms.Ptr<float>()),
                ilgpu: s => ScaledResidualKernels.GammaTerms.Launch(s, count, d.View<float>(), ys.View<float>(), bs.View<float>(), terms.View<float>(), c));
            return terms;
        }
    }
}
