using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Reduction;
using BinaryKernels = MaMA.Kernels.Elementwise.Binary;

namespace MaMA.Engine;

/// <summary>
/// Sum, mean and max over any set of axes. On ILGPU (and for max) reduced axes are permuted to the
/// end and made contiguous, so every reduction is a row reduction over [rows, n] (RowReduce
/// kernels); the CPU sum/mean reduces in place (ReduceSimd).
/// </summary>
public static partial class Ops
{
    /// <summary>Sum over <paramref name="axes"/> (all axes when empty).</summary>
    public static Tensor Sum(Tensor x, int[]? axes = null, bool keepDim = false) => ReduceSum(x, axes, keepDim, mean: false);

    /// <summary>Mean over <paramref name="axes"/> (all axes when empty).</summary>
    public static Tensor Mean(Tensor x, int[]? axes = null, bool keepDim = false) => ReduceSum(x, axes, keepDim, mean: true);

    /// <summary>Max over one axis; also returns the int32 arg-max (first occurrence).</summary>
    public static unsafe (Tensor Values, Tensor Indices) Max(Tensor x, int axis, bool keepDim = false)
    {
        Dispatch.RequireFloat("max", x);
        int a = Shape.Axis(axis, x.Rank);
        if (x.Device.IsCpu) return MaxCpu(x, a, keepDim);
        (Tensor rows, int[] outShape, int n) = ToRows(x, [a], keepDim);
        if (n == 0) throw new ArgumentException($"max over an empty axis of {Shape.Format(x.Shape)}.");
        int count = outShape.Length == 0 ? 1 : checked((int)Shape.Numel(outShape));
        Tensor values = Tensor.Empty(outShape, DType.Float32, x.Device);
        Tensor indices = Tensor.Empty(outShape, DType.Int32, x.Device);
        Dispatch.Run(x.Device,
            cpu: () => RowReduce.Max.RunCpu(count, rows.Ptr<float>(), values.Ptr<float>(), indices.Ptr<int>(), n),
            ilgpu: s => RowReduce.Max.Launch(s, count, rows.View<float>(), values.View<float>(), indices.View<int>(), n));
        GradMode.RecordIfNeeded(values, new MaxNode(x, a, indices));
        return (values, indices);
    }

    /// <summary>CPU max over one axis of the contiguous input seen as [outer, n, inner] (<see cref="ReduceSimd.Max"/>), no permuted copy.</summary>
    private static unsafe (Tensor Values, Tensor Indices) MaxCpu(Tensor x, int axis, bool keepDim)
    {
        int n = x.Shape[axis];
        if (n == 0) throw new ArgumentException($"max over an empty axis of {Shape.Format(x.Shape)}.");
        int[] outShape = keepDim
            ? Enumerable.Range(0, x.Rank).Select(d => d == axis ? 1 : x.Shape[d]).ToArray()
            : Enumerable.Range(0, x.Rank).Where(d => d != axis).Select(d => x.Shape[d]).ToArray();
        (long outer, long inner) = AroundAxis(x.Shape, axis);
        Tensor xc;
        using (GradMode.NoGrad())
            xc = Contiguous(x.DType == DType.Float32 ? x : x.To(DType.Float32));
        Tensor values = Tensor.Empty(outShape, DType.Float32, x.Device);
        Tensor indices = Tensor.Empty(outShape, DType.Int32, x.Device);
        ReduceSimd.Max(xc.Ptr<float>(), outer, n, inner, values.Ptr<float>(), indices.Ptr<int>());
        GradMode.RecordIfNeeded(values, new MaxNode(x, axis, indices));
        return (values, indices);
    }

    /// <summary>Element counts before and after <paramref name="axis"/>.</summary>
    private static (long Outer, long Inner) AroundAxis(ReadOnlySpan<int> shape, int axis)
    {
        long outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, inner);
    }

    /// <summary>Sums a broadcast result back to <paramref name="shape"/> (the gradient of broadcasting).</summary>
    public static Tensor SumTo(Tensor x, ReadOnlySpan<int> shape)
    {
        if (Shape.SameShape(x.Shape, shape)) return x;
        int lead = x.Rank - shape.Length;
        var axes = new List<int>();
        for (int d = 0; d < x.Rank; d++)
            if (d < lead || (shape[d - lead] == 1 && x.Shape[d] != 1)) axes.Add(d);
        Tensor reduced = axes.Count == 0 ? x : Sum(x, axes.ToArray(), keepDim: true);
        return Reshape(reduced, shape.ToArray());
    }

    /// <summary>1 / n for a mean over n elements; over none it is NaN (0 x infinity), as in PyTorch, not a silent 0.</summary>
    private static float MeanScale(long n) => n == 0 ? float.PositiveInfinity : 1f / n;

    private static unsafe Tensor ReduceSum(Tensor x, int[]? axes, bool keepDim, bool mean)
    {
        Dispatch.RequireFloat(mean ? "mean" : "sum", x);
        int[] ax = (axes is null || axes.Length == 0 ? Enumerable.Range(0, x.Rank) : axes.Select(a => Shape.Axis(a, x.Rank))).Distinct().Order().ToArray();
        if (x.Device.IsCpu) return ReduceSumCpu(x, ax, keepDim, mean);
        if (IsOneRun(ax)) return ReduceSumSplit(x, ax, keepDim, mean);
        (Tensor rows, int[] outShape, int n) = ToRows(x, ax, keepDim);
        int count = checked((int)Shape.Numel(outShape));
        float scale = mean ? MeanScale(n) : 1f;
        Tensor y = Tensor.Empty(outShape, DType.Float32, x.Device);
        Dispatch.Run(x.Device,
            cpu: () => RowReduce.Sum.RunCpu(count, rows.Ptr<float>(), y.Ptr<float>(), n, scale),
            ilgpu: s => RowReduce.Sum.Launch(s, count, rows.View<float>(), y.View<float>(), n, scale));
        return GradMode.RecordIfNeeded(y, new SumNode(x, ax, scale));
    }

    private static bool IsOneRun(int[] sortedAxes) => sortedAxes.Length > 0 && sortedAxes[^1] - sortedAxes[0] == sortedAxes.Length - 1;

    /// <summary>
    /// Sum/mean over adjacent axes on accelerators, without the permuted copy: x as [outer, reduced,
    /// inner] (contiguous fp32), reduced in coalesced split passes (<see cref="SplitReduce"/>) until
    /// one split per output is left. A bias gradient at the ViT's batch-36 shape is 768 outputs of
    /// 49,464 rows each, and a loss mean one output of 38 M: one thread per output left most of the
    /// card idle.
    /// </summary>
    private static unsafe Tensor ReduceSumSplit(Tensor x, int[] ax, bool keepDim, bool mean)
    {
        int lo = ax[0], hi = ax[^1];
        long outer = 1, inner = 1, reducedLong = 1;
        for (int d = 0; d < x.Rank; d++)
        {
            if (d < lo) outer *= x.Shape[d];
            else if (d > hi) inner *= x.Shape[d];
            else reducedLong *= x.Shape[d];
        }
        int[] outShape = keepDim
            ? Enumerable.Range(0, x.Rank).Select(d => d >= lo && d <= hi ? 1 : x.Shape[d]).ToArray()
            : Enumerable.Range(0, x.Rank).Where(d => d < lo || d > hi).Select(d => x.Shape[d]).ToArray();
        int outputs = checked((int)(outer * inner)), reduced = checked((int)reducedLong), innerInt = checked((int)inner);
        float scale = mean ? MeanScale(reduced) : 1f;
        Tensor y = Tensor.Empty(outShape, DType.Float32, x.Device);
        if (outputs > 0)
        {
            using var temps = new TempScope();
            Tensor current;
            using (GradMode.NoGrad())
                current = temps.F32(x);
            Dispatch.Run(x.Device,
                cpu: () => throw new InvalidOperationException("ReduceSumSplit is the accelerator path; the CPU has ReduceSumCpu."),
                ilgpu: s =>
                {
                    int rows = reduced;
                    while (true)
                    {
                        int splits = SplitReduce.Splits(outputs, rows);
                        if (splits == 1)
                        {
                            SplitReduce.Partial.Launch(s, outputs, current.View<float>(), y.View<float>(), rows, innerInt, 1);
                            break;
                        }
                        Tensor partial = temps.Own(Tensor.Empty([checked(outputs * splits)], DType.Float32, x.Device));
                        SplitReduce.Partial.Launch(s, outputs * splits, current.View<float>(), partial.View<float>(), rows, innerInt, splits);
                        current = partial;
                        rows = splits;
                    }
                    if (scale != 1f) SplitReduce.Scale.Launch(s, outputs, y.View<float>(), y.View<float>(), scale);
                });
        }
        return GradMode.RecordIfNeeded(y, new SumNode(x, ax, scale));
    }

    /// <summary>
    /// Fast CPU sum/mean: reduces the contiguous input in place of the permuted copy the row kernels
    /// need (<see cref="ReduceSimd"/>: row sums when the innermost axis is reduced, running row
    /// additions when it is kept, e.g. a mean over tokens or a bias gradient).
    /// </summary>
    private static unsafe Tensor ReduceSumCpu(Tensor x, int[] ax, bool keepDim, bool mean)
    {
        bool[] reduced = new bool[x.Rank];
        int n = 1;
        foreach (int a in ax)
        {
            reduced[a] = true;
            n *= x.Shape[a];
        }
        int[] outShape = keepDim
            ? Enumerable.Range(0, x.Rank).Select(d => reduced[d] ? 1 : x.Shape[d]).ToArray()
            : Enumerable.Range(0, x.Rank).Where(d => !reduced[d]).Select(d => x.Shape[d]).ToArray();
        float scale = mean ? MeanScale(n) : 1f;
        Tensor xc;
        using (GradMode.NoGrad())
            xc = Contiguous(x.DType == DType.Float32 ? x : x.To(DType.Float32));
        Tensor y = Tensor.Empty(outShape, DType.Float32, x.Device);
        ReduceSimd.Sum(xc.Shape, xc.Ptr<float>(), reduced, y.Ptr<float>(), scale);
        return GradMode.RecordIfNeeded(y, new SumNode(x, ax, scale));
    }

    /// <summary>dx = scale * dy broadcast over the reduced axes, on the CPU (<see cref="BinarySimd"/> with a zero-stride operand).</summary>
    private static unsafe Tensor SumBackwardCpu(Edge x, int[] axes, Tensor dy, float scale)
    {
        Tensor g = Dispatch.F32(dy);
        Tensor dx = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        var gStrides = new long[x.Rank];
        long stride = 1;
        for (int d = x.Rank - 1; d >= 0; d--)
        {
            if (axes.Contains(d)) continue;
            gStrides[d] = stride;
            stride *= x.Shape[d];
        }
        var zero = new long[x.Rank];
        float s = scale;
        BinarySimd.Run(x.Shape, g.Ptr<float>(), gStrides, &s, zero, dx.Ptr<float>(), BinaryKernels.Multiply);
        return dx;
    }

    /// <summary>Permutes the reduced axes last and flattens to contiguous fp32 [rows, n].</summary>
    private static (Tensor Rows, int[] OutShape, int N) ToRows(Tensor x, int[] axes, bool keepDim)
    {
        int[] kept = Enumerable.Range(0, x.Rank).Where(d => !axes.Contains(d)).ToArray();
        int n = 1;
        foreach (int a in axes) n *= x.Shape[a];
        int[] outShape = keepDim
            ? Enumerable.Range(0, x.Rank).Select(d => axes.Contains(d) ? 1 : x.Shape[d]).ToArray()
            : kept.Select(d => x.Shape[d]).ToArray();
        Tensor f = x.DType == DType.Float32 ? x : x.To(DType.Float32);
        using (GradMode.NoGrad())
        {
            Tensor rows = Contiguous(Permute(f, kept.Concat(axes).ToArray()));
            return (rows, outShape, n);
        }
    }

    private sealed class SumNode(Tensor x, int[] axes, float scale) : Node(x)
    {
        public override string Name => "sum";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            // Broadcast dy (scaled) over the reduced axes: dy in [rows] -> [rows, n] -> permute back.
            Edge x = Edges[0];
            if (x.Device.IsCpu) return [SumBackwardCpu(x, axes, dy, scale)];
            int[] kept = Enumerable.Range(0, x.Rank).Where(d => !axes.Contains(d)).ToArray();
            int n = 1;
            foreach (int a in axes) n *= x.Shape[a];
            Tensor g = Dispatch.F32(dy);
            int[] permutedShape = kept.Concat(axes).Select(d => x.Shape[d]).ToArray();
            Tensor expanded = Tensor.Empty(permutedShape, DType.Float32, x.Device);
            int count = checked((int)expanded.Numel);
            if (count > 0)
                Dispatch.Run(x.Device,
                    cpu: () => RowReduce.SumBackward.RunCpu(count, expanded.Ptr<float>(), g.Ptr<float>(), n, scale),
                    ilgpu: s => RowReduce.SumBackward.Launch(s, count, expanded.View<float>(), g.View<float>(), n, scale));
            int[] order = kept.Concat(axes).ToArray();
            var inverse = new int[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            return [Contiguous(Permute(expanded, inverse))];
        }
    }

    private sealed class MaxNode(Tensor x, int axis, Tensor indices) : Node(x)
    {
        public override string Name => "max";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Edge x = Edges[0];
            int n = x.Shape[axis];
            Tensor g = Dispatch.F32(dy);
            if (x.Device.IsCpu)
            {
                // dx is zero but for dy at each arg-max: [outer, n, inner] with one write per output.
                Tensor dx = Tensor.Zeros(x.Shape, DType.Float32, x.Device);
                (long outer, long inner) = AroundAxis(x.Shape, axis);
                float* pdx = dx.Ptr<float>(), pg = g.Ptr<float>();
                int* pi = indices.Ptr<int>();
                for (long o = 0; o < outer; o++)
                    for (long i = 0; i < inner; i++)
                    {
                        long at = o * inner + i;
                        pdx[(o * n + pi[at]) * inner + i] = pg[at];
                    }
                return [dx];
            }
            int[] kept = Enumerable.Range(0, x.Rank).Where(d => d != axis).ToArray();
            int[] permutedShape = kept.Append(axis).Select(d => x.Shape[d]).ToArray();
            Tensor dxRows = Tensor.Empty(permutedShape, DType.Float32, x.Device);
            int count = checked((int)dxRows.Numel);
            Dispatch.Run(x.Device,
                cpu: () => RowReduce.MaxBackward.RunCpu(count, dxRows.Ptr<float>(), g.Ptr<float>(), indices.Ptr<int>(), n),
                ilgpu: s => RowReduce.MaxBackward.Launch(s, count, dxRows.View<float>(), g.View<float>(), indices.View<int>(), n));
            int[] order = kept.Append(axis).ToArray();
            var inverse = new int[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            return [Contiguous(Permute(dxRows, inverse))];
        }
    }
}
