using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using ActivationKernels = MaMA.Kernels.Elementwise.Activations;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// GELU(y + bias): a linear layer's bias add fused into the GELU after it (the ViT MLP's fc1,
    /// GPT-2's c_fc). y [..., C] (the product x W^T), bias [C]; returns [..., C], fp32 and equal to
    /// <c>Gelu(Add(y, bias), form)</c> bit for bit on the CPU and the simulator.
    /// <para>
    /// Unfused, the [rows, C] pre-activation is written by the add, read by GELU and kept for its
    /// backward. Here one pass reads y and writes the output; the backward recomputes y + bias from
    /// the saved y, so nothing more is stored than before.
    /// </para>
    /// <para>
    /// Inside a bf16 autocast scope the output is bf16, as PyTorch's GELU of a bf16 linear output is:
    /// the next product (fc2, c_proj) would round it to bf16 anyway, so the values it multiplies are
    /// the same, without an fp32 output and a cast pass. The pass also writes the bf16 pre-activation
    /// the backward reads (what <see cref="Autocast.KeepForBackward"/> keeps for an unfused GELU).
    /// </para>
    /// Gradients: d pre = dy GELU'(y + bias) is y's; bias's is its sum over all leading axes.
    /// </summary>
    public static unsafe Tensor BiasGelu(Tensor y, Tensor bias, GeluForm form = GeluForm.Erf)
    {
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(bias);
        Dispatch.SameDevice("bias_gelu", y, bias);
        Dispatch.RequireFloat("bias_gelu", y);
        Dispatch.RequireFloat("bias_gelu", bias);
        if (y.Rank == 0 || bias.Rank != 1 || bias.Shape[0] != y.Shape[^1])
            throw new ArgumentException($"bias_gelu: y must be [..., C] and bias [C], got {Shape.Format(y.Shape)} and {Shape.Format(bias.Shape)}.");
        Tensor yf = Dispatch.F32(y), bf = Dispatch.F32(bias);
        int c = bias.Shape[0], count = checked((int)yf.Numel), rows = c == 0 ? 0 : count / c;
        int tanh = form == GeluForm.Tanh ? 1 : 0;
        bool record = GradMode.ShouldRecord(y, bias), bf16 = Autocast.IsEnabled;
        Tensor output = Tensor.Empty(yf.Shape, bf16 ? DType.BFloat16 : DType.Float32, yf.Device);
        Tensor? pre16 = record && bf16 ? Tensor.Empty(yf.Shape, DType.BFloat16, yf.Device) : null;
        if (count > 0)
            Dispatch.Run(yf.Device,
                cpu: () =>
                {
                    if (!bf16) ActivationsSimd.BiasGeluForward(rows, c, yf.Ptr<float>(), bf.Ptr<float>(), output.Ptr<float>(), tanh != 0);
                    else ActivationsSimd.BiasGeluForwardBf16(rows, c, yf.Ptr<float>(), bf.Ptr<float>(), output.Ptr<ushort>(),
                        pre16 is null ? null : pre16.Ptr<ushort>(), tanh != 0);
                },
                ilgpu: s =>
                {
                    if (!bf16) ActivationKernels.BiasGeluForward.Launch(s, count, yf.View<float>(), bf.View<float>(), output.View<float>(), c, tanh);
                    else ActivationKernels.BiasGeluForwardBf16.Launch(s, count, yf.View<float>(), bf.View<float>(), output.View<ushort>(),
                        (pre16 ?? output).View<ushort>(), c, tanh, pre16 is null ? 0 : 1);
                });
        if (!record || pre16 is not null)
        {
            if (!ReferenceEquals(yf, y)) yf.Dispose();
            if (!ReferenceEquals(bf, bias)) bf.Dispose();
            if (!record) return output;
            return GradMode.RecordIfNeeded(output, new BiasGeluNode(y, bias, null, null, pre16, form).Owning(pre16));
        }
        return GradMode.RecordIfNeeded(output, new BiasGeluNode(y, bias, yf, bf, null, form).Owning(Node.IfCopy(yf, y), Node.IfCopy(bf, bias)));
    }

    /// <summary>Saves fp32 y and bias (the pre-activation is recomputed), or under autocast only the bf16 pre-activation.</summary>
    private sealed class BiasGeluNode(Tensor y, Tensor bias, Tensor? yf, Tensor? bf, Tensor? pre16, GeluForm form) : Node(y, bias)
    {
        private readonly int[] _biasShape = [.. bias.Shape];

        public override string Name => form == GeluForm.Erf ? "bias_gelu_erf" : "bias_gelu_tanh";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            using var scope = new TempScope();
            Tensor g = scope.F32(dy);
            Tensor dPre = Tensor.Empty(g.Shape, DType.Float32, g.Device);
            int count = checked((int)g.Numel), c = _biasShape[0], rows = c == 0 ? 0 : count / c;
            bool tanh = form == GeluForm.Tanh;
            if (count > 0)
            {
                if (pre16 is not null)
                {
                    Dispatch.Run(g.Device,
                        cpu: () =>
                        {
                            // Widened, then the unfused GELU backward: the bf16 path on the CPU is for parity, not speed.
                            Tensor pre = scope.F32(pre16);
                            if (tanh) ActivationsSimd.GeluTanhBackward(count, pre.Ptr<float>(), g.Ptr<float>(), dPre.Ptr<float>());
                            else ActivationsSimd.GeluErfBackward(count, pre.Ptr<float>(), g.Ptr<float>(), dPre.Ptr<float>());
                        },
                        ilgpu: s => ActivationKernels.GeluBackwardFromBf16.Launch(s, count, pre16.View<ushort>(), g.View<float>(), dPre.View<float>(), tanh ? 1 : 0));
                }
                else
                {
                    Tensor ys = yf!, bs = bf!;
                    Dispatch.Run(g.Device,
                        cpu: () => ActivationsSimd.BiasGeluBackward(rows, c, ys.Ptr<float>(), bs.Ptr<float>(), g.Ptr<float>(), dPre.Ptr<float>(), tanh),
                        ilgpu: s => ActivationKernels.BiasGeluBackward.Launch(s, count, ys.View<float>(), bs.View<float>(), g.View<float>(), dPre.View<float>(), c, tanh ? 1 : 0));
                }
            }
            Tensor? dBias = Edges[1].RequiresGrad ? SumTo(dPre, _biasShape) : null;
            if (Edges[0].RequiresGrad) return [dPre, dBias];
            if (!ReferenceEquals(dBias, dPre)) dPre.Dispose();
            return [null, dBias];
        }
    }
}
