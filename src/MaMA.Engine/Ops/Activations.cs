using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using ActivationKernels = MaMA.Kernels.Elementwise.Activations;

namespace MaMA.Engine;

/// <summary>The two GELU forms of the paper's encoders.</summary>
public enum GeluForm
{
    /// <summary>Exact x Phi(x) (DINOv2 ViT MLP).</summary>
    Erf,

    /// <summary>tanh approximation, "gelu_new" (GPT-2 / BioMedLM MLP).</summary>
    Tanh,
}

/// <remarks>CPU: hand-written SIMD (<see cref="ActivationsSimd"/>); ILGPU: the generated kernels.</remarks>
public static partial class Ops
{
    public static unsafe Tensor Relu(Tensor x)
    {
        Dispatch.RequireFloat("relu", x);
        Tensor xf = Dispatch.F32(x);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = checked((int)xf.Numel);
        Dispatch.Run(xf.Device,
            cpu: () => ActivationsSimd.ReluForward(n, xf.Ptr<float>(), y.Ptr<float>()),
            ilgpu: s => ActivationKernels.ReluForward.Launch(s, n, xf.View<float>(), y.View<float>()));
        return GradMode.RecordIfNeeded(y, new ReluNode(x, xf).Owning(Node.IfCopy(xf, x)));
    }

    public static unsafe Tensor Gelu(Tensor x, GeluForm form = GeluForm.Erf)
    {
        Dispatch.RequireFloat("gelu", x);
        Tensor xf = Dispatch.F32(x);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = checked((int)xf.Numel);
        Dispatch.Run(xf.Device,
            cpu: () =>
            {
                if (form == GeluForm.Erf) ActivationsSimd.GeluErfForward(n, xf.Ptr<float>(), y.Ptr<float>());
                else ActivationsSimd.GeluTanhForward(n, xf.Ptr<float>(), y.Ptr<float>());
            },
            ilgpu: s =>
            {
                if (form == GeluForm.Erf) ActivationKernels.GeluErfForward.Launch(s, n, xf.View<float>(), y.View<float>());
                else ActivationKernels.GeluTanhForward.Launch(s, n, xf.View<float>(), y.View<float>());
            });
        // Under bf16 autocast the backward reads a bf16 copy of x (Autocast.KeepForBackward).
        if (!GradMode.ShouldRecord(x))
        {
            if (!ReferenceEquals(xf, x)) xf.Dispose();
            return y;
        }
        Tensor saved = Autocast.KeepForBackward(x, xf);
        if (!ReferenceEquals(saved, xf) && !ReferenceEquals(xf, x)) xf.Dispose(); // the bf16 copy replaces a widened one
        return GradMode.RecordIfNeeded(y, new GeluNode(x, saved, form).Owning(Node.IfCopy(saved, x)));
    }

    private sealed class ReluNode(Tensor x, Tensor xf) : Node(x)
    {
        public override string Name => "relu";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
            int n = checked((int)xf.Numel);
            Dispatch.Run(xf.Device,
                cpu: () => ActivationsSimd.ReluBackward(n, xf.Ptr<float>(), g.Ptr<float>(), dx.Ptr<float>()),
                ilgpu: s => ActivationKernels.ReluBackward.Launch(s, n, xf.View<float>(), g.View<float>(), dx.View<float>()));
            return [dx];
        }
    }

    /// <summary>Saves x (fp32, or bf16 under autocast), widened for the backward.</summary>
    private sealed class GeluNode(Tensor x, Tensor saved, GeluForm form) : Node(x)
    {
        public override string Name => form == GeluForm.Erf ? "gelu_erf" : "gelu_tanh";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            using var scope = new TempScope();
            Tensor xf = scope.F32(saved);
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
            int n = checked((int)xf.Numel);
            Dispatch.Run(xf.Device,
                cpu: () =>
                {
                    if (form == GeluForm.Erf) ActivationsSimd.GeluErfBackward(n, xf.Ptr<float>(), g.Ptr<float>(), dx.Ptr<float>());
                    else ActivationsSimd.GeluTanhBackward(n, xf.Ptr<float>(), g.Ptr<float>(), dx.Ptr<float>());
                },
                ilgpu: s =>
                {
                    if (form == GeluForm.Erf) ActivationKernels.GeluErfBackward.Launch(s, n, xf.View<float>(), g.View<float>(), dx.View<float>());
                    else ActivationKernels.GeluTanhBackward.Launch(s, n, xf.View<float>(), g.View<float>(), dx.View<float>());
                });
            return [dx];
        }
    }
}
