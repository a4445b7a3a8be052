using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using CrossEntropyKernels = MaMA.Kernels.Softmax.CrossEntropy;
using RowReduceKernels = MaMA.Kernels.Reduction.RowReduce;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Mean softmax cross-entropy of <paramref name="logits"/> [N, C] against class ids
    /// <paramref name="targets"/> [N] (int64 or int32), as torch.nn.functional.cross_entropy with
    /// reduction "mean": mean over rows of -log_softmax(logits)[i, target_i]. With
    /// <paramref name="labelSmoothing"/> eps the target distribution is (1 - eps) onehot + eps / C.
    /// Rows whose target equals <paramref name="ignoreIndex"/> (when given) add nothing and the
    /// mean is over the remaining rows. Targets are validated on the host (they are copied back
    /// from an accelerator, which synchronises it: class ids known on the host go to the
    /// <see cref="CrossEntropy(Tensor, long[], float, int?)"/> overload instead); one outside
    /// [0, C) throws an <see cref="ArgumentException"/> naming it.
    /// Returns a 0-d fp32 tensor; logits get the gradient (softmax - target distribution) / rows * dy.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, float labelSmoothing = 0f, int? ignoreIndex = null)
    {
        const string op = "cross_entropy";
        Dispatch.SameDevice(op, logits, targets);
        if (targets.DType is not (DType.Int64 or DType.Int32))
            throw new ArgumentException($"{op}: targets must be int64 or int32 class ids, got {targets.DType}.", nameof(targets));
        if (logits.Rank == 2 && (targets.Rank != 1 || targets.Shape[0] != logits.Shape[0]))
            throw new ArgumentException($"{op}: targets must be [{logits.Shape[0]}] for logits {Shape.Format(logits.Shape)}, got {Shape.Format(targets.Shape)}.", nameof(targets));
        long[] values = targets.Rank != 1 ? [] : targets.DType == DType.Int64 ? targets.ToArray<long>() : Array.ConvertAll(targets.ToArray<int>(), v => (long)v);
        return CrossEntropy(logits, values, labelSmoothing, ignoreIndex);
    }

    /// <summary>
    /// <see cref="CrossEntropy(Tensor, Tensor, float, int?)"/> with the class ids on the host (one per
    /// row of <paramref name="logits"/>): checked here and uploaded once, with no read-back from the
    /// device (the contrastive and local-alignment losses' diagonal targets, a probe's labels).
    /// </summary>
    public static unsafe Tensor CrossEntropy(Tensor logits, long[] targets, float labelSmoothing = 0f, int? ignoreIndex = null)
    {
        const string op = "cross_entropy";
        ArgumentNullException.ThrowIfNull(targets);
        Dispatch.RequireFloat(op, logits);
        if (logits.Rank != 2)
            throw new ArgumentException($"{op}: logits must be [N, C], got {Shape.Format(logits.Shape)}.", nameof(logits));
        int rows = logits.Shape[0], c = logits.Shape[1];
        if (targets.Length != rows)
            throw new ArgumentException($"{op}: targets must be [{rows}] for logits {Shape.Format(logits.Shape)}, got [{targets.Length}].", nameof(targets));
        if (rows == 0 || c == 0)
            throw new ArgumentException($"{op}: logits {Shape.Format(logits.Shape)} are empty.", nameof(logits));
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"{op}: label smoothing {labelSmoothing} is outside [0, 1].");

        int[] ids = CrossEntropyTargets(op, targets, c, ignoreIndex, out int counted);
        // Any negative sentinel works when nothing is ignored: validated targets are never negative.
        int ignore = ignoreIndex ?? int.MinValue;
        float scale = 1f / counted;

        Tensor xf;
        using (GradMode.NoGrad()) xf = Dispatch.F32(logits);
        Tensor t32 = Tensor.FromArray(ids, [rows], logits.Device);
        Tensor rowLoss = Tensor.Empty([rows], DType.Float32, logits.Device);
        Tensor rowMax = Tensor.Empty([rows], DType.Float32, logits.Device);
        Tensor logSum = Tensor.Empty([rows], DType.Float32, logits.Device);
        Tensor loss = Tensor.Empty([], DType.Float32, logits.Device);
        Dispatch.Run(logits.Device,
            cpu: () => loss.Ptr<float>()[0] = CrossEntropySimd.Forward(rows, c, xf.Ptr<float>(), t32.Ptr<int>(), rowMax.Ptr<float>(), logSum.Ptr<float>(),
                labelSmoothing, ignore, scale),
            ilgpu: s =>
            {
                CrossEntropyKernels.Forward.Launch(s, rows, xf.View<float>(), t32.View<int>(), rowLoss.View<float>(), rowMax.View<float>(), logSum.View<float>(), c, labelSmoothing, ignore);
                RowReduceKernels.Sum.Launch(s, 1, rowLoss.View<float>(), loss.View<float>(), rows, scale);
            });
        rowLoss.Dispose();
        return GradMode.RecordIfNeeded(loss, new CrossEntropyNode(logits, xf, t32, rowMax, logSum, labelSmoothing, ignore, scale)
            .Owning(t32, rowMax, logSum, Node.IfCopy(xf, logits)));
    }

    /// <summary>
    /// Checks each host class id against [0, C) (or the ignore index) and returns them as int32 with
    /// the number of rows that count toward the mean.
    /// </summary>
    private static int[] CrossEntropyTargets(string op, long[] values, int c, int? ignoreIndex, out int counted)
    {
        var ids = new int[values.Length];
        counted = 0;
        for (int i = 0; i < values.Length; i++)
        {
            long t = values[i];
            if (ignoreIndex is { } ignored && t == ignored)
            {
                ids[i] = ignored;
                continue;
            }
            if (t < 0 || t >= c)
            {
                string ignoreNote = ignoreIndex is { } ig ? $" or the ignore index {ig}" : "";
                throw new ArgumentException($"{op}: target {t} at index {i} is out of range for {c} classes (expected 0..{c - 1}{ignoreNote}).", "targets");
            }
            ids[i] = (int)t;
            counted++;
        }
        return ids;
    }

    private sealed class CrossEntropyNode(Tensor logits, Tensor xf, Tensor targets, Tensor rowMax, Tensor logSum, float smoothing, int ignore, float scale) : Node(logits)
    {
        public override string Name => "cross_entropy";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
            int c = xf.Shape[1];
            int count = checked((int)xf.Numel);
            Dispatch.Run(xf.Device,
                cpu: () => CrossEntropySimd.Backward(xf.Shape[0], c, xf.Ptr<float>(), targets.Ptr<int>(), rowMax.Ptr<float>(), logSum.Ptr<float>(), dx.Ptr<float>(),
                    smoothing, ignore, scale * g.Ptr<float>()[0]),
                ilgpu: s => CrossEntropyKernels.Backward.Launch(s, count, xf.View<float>(), targets.View<int>(), rowMax.View<float>(), logSum.View<float>(), g.View<float>(), dx.View<float>(), c, smoothing, ignore, scale));
            return [dx];
        }
    }
}
