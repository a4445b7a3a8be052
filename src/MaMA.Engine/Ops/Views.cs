using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Layout;

namespace MaMA.Engine;

/// <summary>Views share storage and only change shape/strides/offset; Contiguous materialises one.</summary>
public static partial class Ops
{
    /// <summary>Same elements, new shape (one dimension may be -1). Copies only when the view is not contiguous.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        int[] resolved = ResolveShape(shape, x.Numel);
        Tensor src = x.IsContiguous ? x : Contiguous(x);
        src.Storage.AddReference();
        var y = new Tensor(src.Storage, src.Offset, resolved, Shape.ContiguousStrides(resolved), src.DType);
        return GradMode.RecordIfNeeded(y, new ReshapeNode(src));
    }

    /// <summary>Swaps two axes (a view).</summary>
    public static Tensor Transpose(Tensor x, int axis0, int axis1)
    {
        int a = Shape.Axis(axis0, x.Rank), b = Shape.Axis(axis1, x.Rank);
        var order = Enumerable.Range(0, x.Rank).ToArray();
        (order[a], order[b]) = (order[b], order[a]);
        return Permute(x, order);
    }

    /// <summary>Reorders axes: output axis i is input axis order[i] (a view).</summary>
    public static Tensor Permute(Tensor x, params int[] order)
    {
        if (order.Length != x.Rank || order.Distinct().Count() != x.Rank || order.Any(o => o < 0 || o >= x.Rank))
            throw new ArgumentException($"Permutation [{string.Join(", ", order)}] is not a permutation of {x.Rank} axes.");
        int[] shape = order.Select(o => x.Shape[o]).ToArray();
        long[] strides = order.Select(o => x.Strides[o]).ToArray();
        x.Storage.AddReference();
        var y = new Tensor(x.Storage, x.Offset, shape, strides, x.DType);
        return GradMode.RecordIfNeeded(y, new PermuteNode(x, order));
    }

    /// <summary>x[..., start:start+length, ...] along <paramref name="axis"/> (a view).</summary>
    public static Tensor Narrow(Tensor x, int axis, int start, int length)
    {
        int a = Shape.Axis(axis, x.Rank);
        if (start < 0 || length < 0 || start + length > x.Shape[a])
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start}, {start + length}) is outside axis {a} of size {x.Shape[a]}.");
        int[] shape = x.ShapeArray;
        shape[a] = length;
        x.Storage.AddReference();
        var y = new Tensor(x.Storage, x.Offset + start * x.Strides[a], shape, x.Strides.ToArray(), x.DType);
        return GradMode.RecordIfNeeded(y, new NarrowNode(x, a, start));
    }

    /// <summary>Broadcasts size-1 axes to <paramref name="shape"/> with zero strides (a view).</summary>
    public static Tensor Expand(Tensor x, params int[] shape)
    {
        if (shape.Length < x.Rank) throw new ArgumentException($"Cannot expand {Shape.Format(x.Shape)} to fewer axes {Shape.Format(shape)}.");
        int lead = shape.Length - x.Rank;
        var strides = new long[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead) continue;
            int d = x.Shape[i - lead];
            if (d == shape[i]) strides[i] = x.Strides[i - lead];
            else if (d != 1) throw new ArgumentException($"Cannot expand {Shape.Format(x.Shape)} to {Shape.Format(shape)}.");
        }
        x.Storage.AddReference();
        var y = new Tensor(x.Storage, x.Offset, (int[])shape.Clone(), strides, x.DType);
        return GradMode.RecordIfNeeded(y, new ExpandNode(x));
    }

    /// <summary>Row-major copy of a strided view (the tensor itself when already contiguous).</summary>
    public static Tensor Contiguous(Tensor x)
    {
        if (x.IsContiguous) return x;
        Tensor y = Tensor.Empty(x.Shape, x.DType, x.Device);
        CopyStrided(x, y);
        return GradMode.RecordIfNeeded(y, new ContiguousNode(x));
    }

    /// <summary>
    /// Copies the elements of view <paramref name="x"/> into contiguous <paramref name="y"/>: on the CPU
    /// row by row with block copies (<see cref="StridedCopySimd"/>), on ILGPU one index per element.
    /// </summary>
    internal static unsafe void CopyStrided(Tensor x, Tensor y)
    {
        if (x.Numel == 0) return;
        int width = x.DType.Size();
        Dispatch.Run(x.Device,
            cpu: () => StridedCopySimd.Copy(x.Shape, x.Ptr<byte>(), x.Strides, y.Ptr<byte>(), y.Strides, width),
            ilgpu: stream =>
            {
                // The source is the whole storage; the map adds the view's offset and strides (passed by value, no upload).
                var all = ((Devices.IlgpuStorage)x.Storage).Buffer.View.AsContiguous();
                foreach (IndexMap.Slice slice in IndexMap.Slices(x.Shape, x.Strides, x.Offset))
                {
                    long first = slice.First;
                    int n = slice.Count;
                    switch (width)
                    {
                        case 1: StridedCopy.Copy8.Launch(stream, n, all, y.View<byte>().SubView(first, n), slice.Map); break;
                        case 2: StridedCopy.Copy16.Launch(stream, n, all.Cast<ushort>(), y.View<ushort>().SubView(first, n), slice.Map); break;
                        case 4: StridedCopy.Copy32.Launch(stream, n, all.Cast<uint>(), y.View<uint>().SubView(first, n), slice.Map); break;
                        default: StridedCopy.Copy64.Launch(stream, n, all.Cast<ulong>(), y.View<ulong>().SubView(first, n), slice.Map); break;
                    }
                }
            });
    }

    /// <summary>
    /// Writes contiguous fp32 or bf16 <paramref name="src"/> into the (possibly strided) fp32 view
    /// <paramref name="dst"/>; on ILGPU a bf16 src is widened in the same pass, on the CPU first.
    /// </summary>
    internal static unsafe void CopyInto(Tensor src, Tensor dst)
    {
        if (src.DType is not (DType.Float32 or DType.BFloat16) || dst.DType != DType.Float32 || !src.IsContiguous || !Shape.SameShape(src.Shape, dst.Shape))
            throw new InvalidOperationException("Internal error: CopyInto needs a contiguous fp32 or bf16 source of the fp32 destination's shape.");
        if (src.Numel == 0) return;
        if (src.DType == DType.BFloat16 && dst.Device.IsCpu)
        {
            using Tensor wide = Cast(src, DType.Float32);
            CopyInto(wide, dst);
            return;
        }
        Dispatch.Run(dst.Device,
            cpu: () => StridedCopySimd.Copy(dst.Shape, src.Ptr<byte>(), src.Strides, dst.Ptr<byte>(), dst.Strides, sizeof(float)),
            ilgpu: stream =>
            {
                var all = ((Devices.IlgpuStorage)dst.Storage).Buffer.View.AsContiguous();
                foreach (IndexMap.Slice slice in IndexMap.Slices(dst.Shape, dst.Strides, dst.Offset))
                {
                    if (src.DType == DType.BFloat16)
                        StridedCopy.ScatterBf16ToFloat.Launch(stream, slice.Count, src.View<ushort>().SubView(slice.First, slice.Count), all.Cast<float>(), slice.Map);
                    else
                        StridedCopy.Scatter32.Launch(stream, slice.Count, src.View<uint>().SubView(slice.First, slice.Count), all.Cast<uint>(), slice.Map);
                }
            });
    }

    private static int[] ResolveShape(int[] shape, long numel)
    {
        int[] result = (int[])shape.Clone();
        int infer = Array.IndexOf(result, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < result.Length; i++) if (i != infer) known *= result[i];
            if (known == 0 || numel % known != 0) throw new ArgumentException($"Cannot reshape {numel} elements to {Shape.Format(shape)}.");
            result[infer] = (int)(numel / known);
        }
        if (Shape.Numel(result) != numel) throw new ArgumentException($"Cannot reshape {numel} elements to {Shape.Format(shape)}.");
        return result;
    }

    private sealed class ReshapeNode(Tensor x) : Node(x)
    {
        internal override bool IsView => true;

        public override string Name => "reshape";

        public override Tensor?[] Backward(Tensor dy) => [Reshape(dy, Edges[0].ShapeArray)];
    }

    private sealed class PermuteNode(Tensor x, int[] order) : Node(x)
    {
        internal override bool IsView => true;

        public override string Name => "permute";

        public override Tensor?[] Backward(Tensor dy)
        {
            var inverse = new int[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            return [Permute(dy, inverse)];
        }
    }

    private sealed class NarrowNode(Tensor x, int axis, int start) : Node(x), IWindowGradient
    {
        internal override bool IsView => true;

        /// <summary>Adds dy into its window of the input's gradient <paramref name="full"/> in place (<see cref="IWindowGradient"/>).</summary>
        public void AddWindowInto(Tensor full, Tensor dy)
        {
            using Tensor window = Narrow(full, axis, start, dy.Shape[axis]);
            Tensor g = WindowSource(dy);
            AddInto(window, g);
            if (!ReferenceEquals(g, dy)) g.Dispose();
        }

        /// <summary>dy as AddInto and CopyInto take it: itself when contiguous fp32 or bf16 (widened as it is read), else a contiguous fp32 copy.</summary>
        private static Tensor WindowSource(Tensor dy) =>
            dy.IsContiguous && dy.DType is DType.Float32 or DType.BFloat16 ? dy : Dispatch.F32(dy);

        public override string Name => "narrow";

        public override Tensor?[] Backward(Tensor dy)
        {
            // dx is zero except the slice, which receives dy.
            Tensor dx = Tensor.Zeros(Edges[0].Shape, DType.Float32, dy.Device);
            using Tensor window = Narrow(dx, axis, start, dy.Shape[axis]);
            Tensor g = WindowSource(dy);
            CopyInto(g, window);
            if (!ReferenceEquals(g, dy)) g.Dispose();
            return [dx];
        }
    }

    private sealed class ExpandNode(Tensor x) : Node(x)
    {
        internal override bool IsView => true;

        public override string Name => "expand";

        public override Tensor?[] Backward(Tensor dy) => [SumTo(dy, Edges[0].Shape)];
    }

    private sealed class ContiguousNode(Tensor x) : Node(x)
    {
        internal override bool IsView => true;

        public override string Name => "contiguous";

        public override Tensor?[] Backward(Tensor dy) => [dy];
    }
}
