using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using ExpKernels = MaMA.Kernels.Elementwise.Exponential;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// e^x elementwise (fp32 out); the gradient is dy * e^x from the saved output. Turns a learnable
    /// log-scale (CLIP's logit_scale, MaMA's local_scale) into the multiplier it stands for.
    /// CPU: TensorPrimitives (SIMD) chunked across cores; ILGPU: the generated kernels.
    /// </summary>
    public static unsafe Tensor Exp(Tensor x)
    {
        Dispatch.RequireFloat("exp", x);
        Tensor xf;
        using (GradMode.NoGrad()) xf = Dispatch.F32(x);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = checked((int)xf.Numel);
        Dispatch.Run(xf.Device,
            cpu: () =>
            {
                nint px = (nint)xf.Ptr<float>(), py = (nint)y.Ptr<float>();
                CpuParallel.For(n, CpuParallel.ElementChunk, (start, length) =>
                    TensorPrimitives.Exp(new ReadOnlySpan<float>((float*)px + start, (int)length), new Span<float>((float*)py + start, (int)length)));
            },
            ilgpu: s => ExpKernels.Forward.Launch(s, n, xf.View<float>(), y.View<float>()));
        return GradMode.RecordIfNeeded(y, new ExpNode(x, y));
    }

    private sealed class ExpNode(Tensor x, Tensor y) : Node(x)
    {
        public override string Name => "exp";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(y.Shape, DType.Float32, y.Device);
            int n = checked((int)y.Numel);
            Dispatch.Run(y.Device,
                cpu: () =>
                {
                    nint py = (nint)y.Ptr<float>(), pg = (nint)g.Ptr<float>(), pdx = (nint)dx.Ptr<float>();
                    CpuParallel.For(n, CpuParallel.ElementChunk, (start, length) =>
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>((float*)pg + start, (int)length), new ReadOnlySpan<float>((float*)py + start, (int)length),
                            new Span<float>((float*)pdx + start, (int)length)));
                },
                ilgpu: s => ExpKernels.Backward.Launch(s, n, y.View<float>(), g.View<float>(), dx.View<float>()));
            return [dx];
        }
    }
}
