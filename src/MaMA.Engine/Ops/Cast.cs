using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Conversion;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Element type conversion through fp32: 16-bit floats widen exactly and narrow with round to
    /// nearest even. Floating-to-floating casts pass gradients through (cast back to fp32).
    /// </summary>
    public static unsafe Tensor Cast(Tensor x, DType dtype)
    {
        if (x.DType == dtype) return x;
        Tensor src = x.Contiguous();
        int n = checked((int)src.Numel);
        Tensor f32 = src.DType == DType.Float32 ? src : Tensor.Empty(src.Shape, DType.Float32, src.Device);
        if (src.DType != DType.Float32)
        {
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
        }
        Tensor y = f32;
        if (dtype != DType.Float32)
        {
            if (src.DType is DType.Int32 or DType.Int64 && dtype is DType.Int32 or DType.Int64)
                y = IntegerCast(src, dtype, n);
            else
            {
                y = Tensor.Empty(src.Shape, dtype, src.Device);
                Dispatch.Run(src.Device,
                    cpu: () =>
                    {
                        switch (dtype)
                        {
                            case DType.BFloat16: Casts.FloatToBFloat16.RunCpu(n, f32.Ptr<float>(), y.Ptr<ushort>()); break;
                            case DType.Float16: Casts.FloatToHalf.RunCpu(n, f32.Ptr<float>(), y.Ptr<ushort>()); break;
                            case DType.Int32: Casts.FloatToInt32.RunCpu(n, f32.Ptr<float>(), y.Ptr<int>()); break;
                            default: throw new NotSupportedException($"Cast to {dtype} is not supported.");
                        }
                    },
                    ilgpu: s =>
                    {
                        switch (dtype)
                        {
                            case DType.BFloat16: Casts.FloatToBFloat16.Launch(s, n, f32.View<float>(), y.View<ushort>()); break;
                            case DType.Float16: Casts.FloatToHalf.Launch(s, n, f32.View<float>(), y.View<ushort>()); break;
                            case DType.Int32: Casts.FloatToInt32.Launch(s, n, f32.View<float>(), y.View<int>()); break;
                            default: throw new NotSupportedException($"Cast to {dtype} is not supported.");
                        }
                    });
            }
        }
        return x.DType.IsFloating() && dtype.IsFloating() ? GradMode.RecordIfNeeded(y, new CastNode(x)) : y;
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
