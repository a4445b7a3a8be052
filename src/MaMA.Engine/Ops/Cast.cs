using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Conversion;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Element type conversion through fp32: 16-bit floats widen exactly and narrow with round to
    /// nearest even. Floating-to-floating casts pass gradients through (cast back to fp32). The
    /// result is contiguous; a strided fp32 view narrowed to bf16 on an accelerator (what autocast
    /// does to views) is read in place, in one pass, and other strided inputs go through a temporary
    /// contiguous copy that is freed at once.
    /// </summary>
    public static unsafe Tensor Cast(Tensor x, DType dtype)
    {
        if (x.DType == dtype) return x;
        Tensor y = x.IsContiguous || x.Device.IsCpu || x.DType != DType.Float32 || dtype != DType.BFloat16
            ? CastContiguous(x, dtype)
            : StridedFloatToBFloat16(x);
        return x.DType.IsFloating() && dtype.IsFloating() ? GradMode.RecordIfNeeded(y, new CastNode(x)) : y;
    }

    /// <summary>fp32 view x (any strides) to a contiguous bf16 tensor with one kernel: positions through <see cref="IndexMap"/>.</summary>
    private static Tensor StridedFloatToBFloat16(Tensor x)
    {
        Tensor y = Tensor.Empty(x.Shape, DType.BFloat16, x.Device);
        Dispatch.Run(x.Device,
            cpu: () => throw new InvalidOperationException("Internal error: the strided bf16 cast runs on accelerators only."),
            ilgpu: s =>
            {
                // The source is the whole storage; the map carries the view's offset and strides.
                var all = ((Devices.IlgpuStorage)x.Storage).Buffer.View.AsContiguous().Cast<float>();
                var to = y.View<ushort>();
                foreach (Kernels.Layout.IndexMap.Slice slice in Kernels.Layout.IndexMap.Slices(x.Shape, x.Strides, x.Offset))
                    Casts.StridedFloatToBFloat16.Launch(s, slice.Count, all, to.SubView(slice.First, slice.Count), slice.Map);
            });
        return y;
    }

    /// <summary>
    /// The conversion of x's elements in row-major order, without recording: integer to integer
    /// directly, everything else widened to fp32 (if needed) and narrowed (if needed). Temporaries
    /// (a contiguous copy of a strided x, the fp32 step between two other types) are freed here.
    /// </summary>
    private static unsafe Tensor CastContiguous(Tensor x, DType dtype)
    {
        Tensor src;
        using (GradMode.NoGrad()) src = x.Contiguous();
        int n = checked((int)src.Numel);
        Tensor y;
        if (src.DType is DType.Int32 or DType.Int64 && dtype is DType.Int32 or DType.Int64)
            y = IntegerCast(src, dtype, n);
        else
        {
            Tensor f32 = src.DType == DType.Float32 ? src : WidenToFloat(src, n);
            y = dtype == DType.Float32 ? f32 : NarrowFromFloat(f32, dtype, n);
            if (!ReferenceEquals(f32, src) && !ReferenceEquals(f32, y)) f32.Dispose();
        }
        if (!ReferenceEquals(src, x)) src.Dispose();
        return y;
    }

    /// <summary>Contiguous src of any non-fp32 type to a new fp32 tensor.</summary>
    private static unsafe Tensor WidenToFloat(Tensor src, int n)
    {
        Tensor f32 = Tensor.Empty(src.Shape, DType.Float32, src.Device);
        Dispatch.Run(src.Device,
            cpu: () =>
            {
                switch (src.DType)
                {
                    case DType.BFloat16: Casts.BFloat16ToFloat.RunCpu(n, src.Ptr<ushort>(), f32.Ptr<float>()); break;
                    case DType.Float16: Casts.HalfToFloat.RunCpu(n, src.Ptr<ushort>(), f32.Ptr<float>()); break;
                    case DType.Int32: Casts.Int32ToFloat.RunCpu(n, src.Ptr<int>(), f32.Ptr<float>()); break;
                    case DType.Int64: Casts.Int64ToFloat.RunCpu(n, src.Ptr<long>(), f32.Ptr<float>()); break;
                    case DType.Bool: Casts.BoolToFloat.RunCpu(n, src.Ptr<byte>(), f32.Ptr<float>()); break;
                }
            },
            ilgpu: s =>
            {
                switch (src.DType)
                {
                    case DType.BFloat16: Casts.BFloat16ToFloat.Launch(s, n, src.View<ushort>(), f32.View<float>()); break;
                    case DType.Float16: Casts.HalfToFloat.Launch(s, n, src.View<ushort>(), f32.View<float>()); break;
                    case DType.Int32: Casts.Int32ToFloat.Launch(s, n, src.View<int>(), f32.View<float>()); break;
                    case DType.Int64: Casts.Int64ToFloat.Launch(s, n, src.View<long>(), f32.View<float>()); break;
                    case DType.Bool: Casts.BoolToFloat.Launch(s, n, src.View<byte>(), f32.View<float>()); break;
                }
            });
        return f32;
    }

    /// <summary>Contiguous fp32 to a new tensor of <paramref name="dtype"/> (bf16, fp16 or int32).</summary>
    private static unsafe Tensor NarrowFromFloat(Tensor f32, DType dtype, int n)
    {
        if (dtype is not (DType.BFloat16 or DType.Float16 or DType.Int32)) throw new NotSupportedException($"Cast to {dtype} is not supported.");
        Tensor y = Tensor.Empty(f32.Shape, dtype, f32.Device);
        Dispatch.Run(f32.Device,
            cpu: () =>
            {
                switch (dtype)
                {
                    case DType.BFloat16: Casts.FloatToBFloat16.RunCpu(n, f32.Ptr<float>(), y.Ptr<ushort>()); break;
                    case DType.Float16: Casts.FloatToHalf.RunCpu(n, f32.Ptr<float>(), y.Ptr<ushort>()); break;
                    default: Casts.FloatToInt32.RunCpu(n, f32.Ptr<float>(), y.Ptr<int>()); break;
                }
            },
            ilgpu: s =>
            {
                switch (dtype)
                {
                    case DType.BFloat16: Casts.FloatToBFloat16.Launch(s, n, f32.View<float>(), y.View<ushort>()); break;
                    case DType.Float16: Casts.FloatToHalf.Launch(s, n, f32.View<float>(), y.View<ushort>()); break;
                    default: Casts.FloatToInt32.Launch(s, n, f32.View<float>(), y.View<int>()); break;
                }
            });
        return y;
    }

    private static unsafe Tensor IntegerCast(Tensor src, DType dtype, int n)
    {
        Tensor y = Tensor.Empty(src.Shape, dtype, src.Device);
        Dispatch.Run(src.Device,
            cpu: () =>
            {
                if (dtype == DType.Int32) Casts.Int64ToInt32.RunCpu(n, src.Ptr<long>(), y.Ptr<int>());
                else Casts.Int32ToInt64.RunCpu(n, src.Ptr<int>(), y.Ptr<long>());
            },
            ilgpu: s =>
            {
                if (dtype == DType.Int32) Casts.Int64ToInt32.Launch(s, n, src.View<long>(), y.View<int>());
                else Casts.Int32ToInt64.Launch(s, n, src.View<int>(), y.View<long>());
            });
        return y;
    }

    private sealed class CastNode(Tensor x) : Node(x)
    {
        public override string Name => "cast";

        public override Tensor?[] Backward(Tensor dy) => [Cast(dy, Edges[0].DType)];
    }
}
