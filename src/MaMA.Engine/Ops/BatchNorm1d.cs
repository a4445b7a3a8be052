using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using BatchNormKernels = MaMA.Kernels.Normalization.BatchNorm;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Batch normalisation of x [N, C] or [N, C, L] per channel C (torch.nn.functional.batch_norm).
    /// Training normalises with the batch mean and biased variance, backpropagates through them, and
    /// updates <paramref name="runningMean"/> / <paramref name="runningVar"/> in place with
    /// <paramref name="momentum"/> (the variance moves towards the unbiased batch variance).
    /// Evaluation normalises with the running statistics. Weight and bias are null without affine.
    /// The running statistics are fp32 contiguous [C] tensors and receive no gradient.
    /// </summary>
    public static unsafe Tensor BatchNorm1d(Tensor x, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar,
        bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        Dispatch.RequireFloat("batch_norm", x);
        if (x.Rank is not (2 or 3))
            throw new ArgumentException($"batch_norm (1d) needs x of shape [N, C] or [N, C, L], got {Shape.Format(x.Shape)}.");
        int n = x.Shape[0], c = x.Shape[1], l = x.Rank == 3 ? x.Shape[2] : 1;
        var tensors = new List<Tensor> { x, runningMean, runningVar };
        if (weight is not null) tensors.Add(weight);
        if (bias is not null) tensors.Add(bias);
        Dispatch.SameDevice("batch_norm", tensors.ToArray());
        foreach ((string name, Tensor? t) in new[] { ("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVar) })
            if (t is not null && !Shape.SameShape(t.Shape, [c]))
                throw new ArgumentException($"batch_norm: {name} must have shape [{c}] for x of shape {Shape.Format(x.Shape)}, got {Shape.Format(t.Shape)}.");
        foreach ((string name, Tensor t) in new[] { ("running_mean", runningMean), ("running_var", runningVar) })
            if (t.DType != DType.Float32 || !t.IsContiguous)
                throw new ArgumentException($"batch_norm: {name} must be a contiguous fp32 tensor (it is updated in place), got {t.DType}{(t.IsContiguous ? "" : ", strided")}.");
        long m = (long)n * l;
        if (training && m <= 1)
            throw new ArgumentException($"batch_norm: training needs more than one value per channel, got input of shape {Shape.Format(x.Shape)}.");

        Tensor xf = Dispatch.F32(x);
        Tensor? wf = weight is null ? null : Dispatch.F32(weight);
        Tensor? bf = bias is null ? null : Dispatch.F32(bias);
        Tensor mean = Tensor.Empty([c], DType.Float32, x.Device);
        Tensor rstd = Tensor.Empty([c], DType.Float32, x.Device);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, x.Device);
        int count = checked((int)xf.Numel);
        int train = training ? 1 : 0;
        int update = training && momentum != 0f ? 1 : 0;
        int hasW = wf is null ? 0 : 1, hasB = bf is null ? 0 : 1;
        Tensor wv = wf ?? mean, bv = bf ?? mean; // placeholders never read when absent
        if (c > 0)
        {
            Dispatch.Run(x.Device,
                cpu: () =>
                {
                    BatchNormKernels.Stats.RunCpu(c, xf.Ptr<float>(), mean.Ptr<float>(), rstd.Ptr<float>(), runningMean.Ptr<float>(), runningVar.Ptr<float>(),
                        n, c, l, eps, momentum, train, update);
                    if (count > 0)
                        BatchNormKernels.Forward.RunCpu(count, xf.Ptr<float>(), y.Ptr<float>(), mean.Ptr<float>(), rstd.Ptr<float>(), wv.Ptr<float>(), bv.Ptr<float>(), c, l, hasW, hasB);
                },
                ilgpu: s =>
                {
                    BatchNormKernels.Stats.Launch(s, c, xf.View<float>(), mean.View<float>(), rstd.View<float>(), runningMean.View<float>(), runningVar.View<float>(),
                        n, c, l, eps, momentum, train, update);
                    if (count > 0)
                        BatchNormKernels.Forward.Launch(s, count, xf.View<float>(), y.View<float>(), mean.View<float>(), rstd.View<float>(), wv.View<float>(), bv.View<float>(), c, l, hasW, hasB);
                });
        }
        Tensor[] inputs = new[] { x, weight, bias }.Where(t => t is not null).ToArray()!;
        return GradMode.RecordIfNeeded(y, new BatchNormNode(inputs, xf, wf, mean, rstd, weight is not null, bias is not null, n, c, l, training));
    }

    private sealed class BatchNormNode(Tensor[] inputs, Tensor xf, Tensor? wf, Tensor mean, Tensor rstd, bool hasWeight, bool hasBias,
        int n, int c, int l, bool training) : Node(inputs)
    {
        public override string Name => "batch_norm";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            Edge x = Edges[0];
            bool needW = hasWeight && Edges[1].RequiresGrad;
            bool needB = hasBias && Edges[hasWeight ? 2 : 1].RequiresGrad;
            bool needSums = training || needW || needB;
            Tensor sumDy = Tensor.Empty([c], DType.Float32, x.Device);
            Tensor sumDyXhat = Tensor.Empty([c], DType.Float32, x.Device);
            Tensor? dx = x.RequiresGrad ? Tensor.Empty(xf.Shape, DType.Float32, x.Device) : null;
            int count = checked((int)xf.Numel);
            int m = checked(n * l);
            int hasW = wf is null ? 0 : 1, train = training ? 1 : 0;
            Tensor wv = wf ?? mean;
            if (c > 0)
            {
                Dispatch.Run(x.Device,
                    cpu: () =>
                    {
                        if (needSums)
                            BatchNormKernels.ReduceGrad.RunCpu(c, xf.Ptr<float>(), g.Ptr<float>(), mean.Ptr<float>(), rstd.Ptr<float>(), sumDy.Ptr<float>(), sumDyXhat.Ptr<float>(), n, c, l);
                        if (dx is not null && count > 0)
                            BatchNormKernels.BackwardInput.RunCpu(count, xf.Ptr<float>(), g.Ptr<float>(), dx.Ptr<float>(), mean.Ptr<float>(), rstd.Ptr<float>(), wv.Ptr<float>(),
                                sumDy.Ptr<float>(), sumDyXhat.Ptr<float>(), c, l, m, hasW, train);
                    },
                    ilgpu: s =>
                    {
                        if (needSums)
                            BatchNormKernels.ReduceGrad.Launch(s, c, xf.View<float>(), g.View<float>(), mean.View<float>(), rstd.View<float>(), sumDy.View<float>(), sumDyXhat.View<float>(), n, c, l);
                        if (dx is not null && count > 0)
                            BatchNormKernels.BackwardInput.Launch(s, count, xf.View<float>(), g.View<float>(), dx.View<float>(), mean.View<float>(), rstd.View<float>(), wv.View<float>(),
                                sumDy.View<float>(), sumDyXhat.View<float>(), c, l, m, hasW, train);
                    });
            }
            var grads = new List<Tensor?> { dx };
            if (hasWeight) grads.Add(needW ? sumDyXhat : null);
            if (hasBias) grads.Add(needB ? sumDy : null);
            return grads.ToArray();
        }
    }
}
