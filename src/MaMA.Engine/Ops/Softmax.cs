using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using RowSoftmaxKernels = MaMA.Kernels.Softmax.RowSoftmax;

namespace MaMA.Engine;

/// <summary>
/// Softmax and log-softmax along one axis (fp32, max-subtracted so any logit magnitude is safe).
/// The kernels work on rows of the last axis; another axis is moved last (a recorded permute and
/// copy), normalised, and moved back.
/// </summary>
public static partial class Ops
{
    /// <summary>exp(x - max) / sum exp(x - max) along <paramref name="axis"/>.</summary>
    public static Tensor Softmax(Tensor x, int axis = -1) => AlongLastAxis(x, axis, t => SoftmaxLastAxis(t, log: false));

    /// <summary>x - max - log sum exp(x - max) along <paramref name="axis"/>.</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => AlongLastAxis(x, axis, t => SoftmaxLastAxis(t, log: true));

    /// <summary>
    /// Applies a row op over the last axis along any <paramref name="axis"/>: the axis is permuted
    /// last and made contiguous, the op runs, and the result is permuted back (all recorded, so
    /// gradients route through the permutes).
    /// </summary>
    private static Tensor AlongLastAxis(Tensor x, int axis, Func<Tensor, Tensor> lastAxisOp)
    {
        int a = Shape.Axis(axis, x.Rank);
        if (a == x.Rank - 1) return lastAxisOp(x);
        int[] order = Enumerable.Range(0, x.Rank).Where(d => d != a).Append(a).ToArray();
        var inverse = new int[order.Length];
        for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
        Tensor y = lastAxisOp(Contiguous(Permute(x, order)));
        return Contiguous(Permute(y, inverse));
    }

    private static unsafe Tensor SoftmaxLastAxis(Tensor x, bool log)
    {
        string name = log ? "log_softmax" : "softmax";
        Dispatch.RequireFloat(name, x);
        Tensor xf;
        using (GradMode.NoGrad()) xf = Dispatch.F32(x);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = xf.Shape[^1];
        int rows = n == 0 ? 0 : checked((int)(xf.Numel / n));
        if (rows > 0)
            Dispatch.Run(xf.Device,
                cpu: () =>
                {
                    if (log) SoftmaxSimd.LogSoftmaxForward(rows, n, xf.Ptr<float>(), y.Ptr<float>());
                    else SoftmaxSimd.SoftmaxForward(rows, n, xf.Ptr<float>(), y.Ptr<float>());
                },
                ilgpu: s =>
                {
                    if (log) RowSoftmaxKernels.LogSoftmaxForward.Launch(s, rows, xf.View<float>(), y.View<float>(), n);
                    else RowSoftmaxKernels.SoftmaxForward.Launch(s, rows, xf.View<float>(), y.View<float>(), n);
                });
        return GradMode.RecordIfNeeded(y, new SoftmaxNode(x, y, log));
    }

    /// <summary>Backward from the saved output y (probabilities, or log-probabilities for log-softmax).</summary>
    private sealed class SoftmaxNode(Tensor x, Tensor y, bool log) : Node(x)
    {
        public override string Name => log ? "log_softmax" : "softmax";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(y.Shape, DType.Float32, y.Device);
            int n = y.Shape[^1];
            int rows = n == 0 ? 0 : checked((int)(y.Numel / n));
            if (rows > 0)
                Dispatch.Run(y.Device,
                    cpu: () =>
                    {
                        if (log) SoftmaxSimd.LogSoftmaxBackward(rows, n, y.Ptr<float>(), g.Ptr<float>(), dx.Ptr<float>());
                        else SoftmaxSimd.SoftmaxBackward(rows, n, y.Ptr<float>(), g.Ptr<float>(), dx.Ptr<float>());
                    },
                    ilgpu: s =>
                    {
                        if (log) RowSoftmaxKernels.LogSoftmaxBackward.Launch(s, rows, y.View<float>(), g.View<float>(), dx.View<float>(), n);
                        else RowSoftmaxKernels.SoftmaxBackward.Launch(s, rows, y.View<float>(), g.View<float>(), dx.View<float>(), n);
                    });
            return [dx];
        }
    }
}
