using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Layout;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Joins tensors along <paramref name="axis"/>, as torch.cat: every input has the same rank and
    /// the same sizes on the other axes; the output's size on <paramref name="axis"/> is the sum.
    /// Inputs may be any strided views (expanded, narrowed, transposed): each is copied straight
    /// into its window of the contiguous output. The output keeps the inputs' dtype when they all
    /// share one; mixed dtypes are widened to fp32 first (a recorded cast). Backward hands each
    /// input the matching narrow view of the output gradient (no copy). Empty inputs are allowed.
    /// Used for the ViT's token sequence [cls, registers, patches].
    /// </summary>
    public static Tensor Concat(IReadOnlyList<Tensor> xs, int axis)
    {
        ArgumentNullException.ThrowIfNull(xs);
        if (xs.Count == 0) throw new ArgumentException("concat needs at least one tensor.", nameof(xs));
        Tensor[] inputs = xs.ToArray();
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i] is null) throw new ArgumentNullException(nameof(xs), $"concat: tensor {i} is null.");
        Devices.Device device = Dispatch.SameDevice("concat", inputs);
        Tensor first = inputs[0];
        if (first.Rank == 0) throw new ArgumentException("concat needs tensors of rank >= 1, got a 0-d tensor.", nameof(xs));
        int a = Shape.Axis(axis, first.Rank);
        int total = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            Tensor x = inputs[i];
            bool same = x.Rank == first.Rank;
            for (int d = 0; same && d < x.Rank; d++) same = d == a || x.Shape[d] == first.Shape[d];
            if (!same)
                throw new ArgumentException($"concat along axis {a}: tensor {i} has shape {Shape.Format(x.Shape)} but tensor 0 has {Shape.Format(first.Shape)}; all sizes except axis {a} must match.", nameof(xs));
            total = checked(total + x.Shape[a]);
        }

        // One dtype for the output: the shared one, else fp32.
        if (inputs.Any(x => x.DType != first.DType))
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                Dispatch.RequireFloat("concat of mixed dtypes", inputs[i]);
                if (inputs[i].DType != DType.Float32) inputs[i] = Cast(inputs[i], DType.Float32);
            }
        }

        int[] shape = first.ShapeArray;
        shape[a] = total;
        var y = Tensor.Empty(shape, inputs[0].DType, device);
        var sizes = new int[inputs.Length];
        int start = 0;
        using (GradMode.NoGrad())
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                sizes[i] = inputs[i].Shape[a];
                if (inputs[i].Numel > 0)
                {
                    using Tensor window = Narrow(y, a, start, sizes[i]);
                    CopyWindow(inputs[i], window);
                }
                start += sizes[i];
            }
        }
        return GradMode.RecordIfNeeded(y, new ConcatNode(inputs, a, sizes));
    }

    /// <summary>Copies view <paramref name="src"/> into the same-shape, same-dtype view <paramref name="dst"/> (any strides on both sides).</summary>
    private static unsafe void CopyWindow(Tensor src, Tensor dst)
    {
        int width = src.DType.Size();
        Dispatch.Run(dst.Device,
            cpu: () => StridedCopySimd.Copy(src.Shape, src.Ptr<byte>(), src.Strides, dst.Ptr<byte>(), dst.Strides, width),
            ilgpu: stream =>
            {
                // Both sides are whole storages; the map carries each view's offset and strides (by value, no upload).
                var from = ((Devices.IlgpuStorage)src.Storage).Buffer.View.AsContiguous();
                var to = ((Devices.IlgpuStorage)dst.Storage).Buffer.View.AsContiguous();
                foreach (IndexMap.Slice slice in IndexMap.Slices(src.Shape, src.Strides, src.Offset, dst.Strides, dst.Offset))
                {
                    switch (width)
                    {
                        case 1: WindowCopy.Copy8.Launch(stream, slice.Count, from, to, slice.Map); break;
                        case 2: WindowCopy.Copy16.Launch(stream, slice.Count, from.Cast<ushort>(), to.Cast<ushort>(), slice.Map); break;
                        case 4: WindowCopy.Copy32.Launch(stream, slice.Count, from.Cast<uint>(), to.Cast<uint>(), slice.Map); break;
                        default: WindowCopy.Copy64.Launch(stream, slice.Count, from.Cast<ulong>(), to.Cast<ulong>(), slice.Map); break;
                    }
                }
            });
    }

    private sealed class ConcatNode(Tensor[] xs, int axis, int[] sizes) : Node(xs)
    {
        public override string Name => "concat";

        public override Tensor?[] Backward(Tensor dy)
        {
            // Input i received rows [start_i, start_i + size_i) of the output along the axis.
            var grads = new Tensor?[sizes.Length];
            int start = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                if (Edges[i].RequiresGrad) grads[i] = Narrow(dy, axis, start, sizes[i]);
                start += sizes[i];
            }
            return grads;
        }
    }
}
