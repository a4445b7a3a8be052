using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using L2NormalizeKernels = MaMA.Kernels.Softmax.L2Normalize;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// x / max(||x||_2, eps) along <paramref name="axis"/>, as torch.nn.functional.normalize
    /// (CLIP projects image and text embeddings onto the unit sphere with it). A zero vector
    /// stays zero and its gradient is dy / eps, never NaN.
    /// </summary>
    public static Tensor L2Normalize(Tensor x, int axis = -1, float eps = 1e-12f)
    {
        if (!(eps > 0f)) throw new ArgumentOutOfRangeException(nameof(eps), $"l2_normalize: eps must be positive, got {eps}.");
        return AlongLastAxis(x, axis, t => L2NormalizeLastAxis(t, eps));
    }

    private static unsafe Tensor L2NormalizeLastAxis(Tensor x, float eps)
    {
        Dispatch.RequireFloat("l2_normalize", x);
        Tensor xf;
        using (GradMode.NoGrad()) xf = Dispatch.F32(x);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = xf.Shape[^1];
        int rows = n == 0 ? 0 : checked((int)(xf.Numel / n));
        Tensor norm = Tensor.Empty([rows], DType.Float32, xf.Device);
        if (rows > 0)
            Dispatch.Run(xf.Device,
                cpu: () => L2NormalizeSimd.Forward(rows, n, xf.Ptr<float>(), y.Ptr<float>(), norm.Ptr<float>(), eps),
                ilgpu: s => L2NormalizeKernels.Forward.Launch(s, rows, xf.View<float>(), y.View<float>(), norm.View<float>(), n, eps));
        if (!ReferenceEquals(xf, x)) xf.Dispose(); // the backward reads y and norm
        return GradMode.RecordIfNeeded(y, new L2NormalizeNode(x, y, norm, eps).Owning(norm));
    }

    /// <summary>Backward from the saved output y and the unclamped row norms.</summary>
    private sealed class L2NormalizeNode(Tensor x, Tensor y, Tensor norm, float eps) : Node(x)
    {
        public override string Name => "l2_normalize";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(y.Shape, DType.Float32, y.Device);
            int n = y.Shape[^1];
            int rows = n == 0 ? 0 : checked((int)(y.Numel / n));
            if (rows > 0)
                Dispatch.Run(y.Device,
                    cpu: () => L2NormalizeSimd.Backward(rows, n, y.Ptr<float>(), g.Ptr<float>(), norm.Ptr<float>(), dx.Ptr<float>(), eps),
                    ilgpu: s => L2NormalizeKernels.Backward.Launch(s, rows, y.View<float>(), g.View<float>(), norm.View<float>(), dx.View<float>(), n, eps));
            return [dx];
        }
    }
}
