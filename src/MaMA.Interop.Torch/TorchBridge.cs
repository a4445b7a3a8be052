using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch;

/// <summary>Copies tensors between the engine and TorchSharp (host memory, row-major).</summary>
public static class TorchBridge
{
    /// <summary>A TorchSharp CPU tensor with the same values, shape and dtype.</summary>
    public static TorchTensor ToTorch(EngineTensor t)
    {
        long[] shape = t.ShapeArray.Select(d => (long)d).ToArray();
        return t.DType switch
        {
            DType.Float32 => tensor(t.ToArray<float>(), shape),
            DType.BFloat16 => tensor(t.ToFloatArray(), shape).to(ScalarType.BFloat16),
            DType.Float16 => tensor(t.ToFloatArray(), shape).to(ScalarType.Float16),
            DType.Int32 => tensor(t.ToArray<int>(), shape),
            DType.Int64 => tensor(t.ToArray<long>(), shape),
            DType.Bool => tensor(t.ToArray<bool>(), shape),
            _ => throw new NotSupportedException(t.DType.ToString()),
        };
    }

    /// <summary>An engine tensor on <paramref name="device"/> with the same values, shape and dtype.</summary>
    public static EngineTensor FromTorch(TorchTensor t, MaMA.Engine.Devices.Device? device = null)
    {
        TorchTensor c = t.detach().cpu().contiguous();
        int[] shape = c.shape.Select(d => checked((int)d)).ToArray();
        return c.dtype switch
        {
            ScalarType.Float32 => EngineTensor.FromArray(c.data<float>().ToArray(), shape, device),
            ScalarType.Float64 => EngineTensor.FromArray(c.to(ScalarType.Float32).data<float>().ToArray(), shape, device),
            ScalarType.BFloat16 => EngineTensor.FromArray(c.to(ScalarType.Float32).data<float>().ToArray(), shape, device).To(DType.BFloat16),
            ScalarType.Float16 => EngineTensor.FromArray(c.to(ScalarType.Float32).data<float>().ToArray(), shape, device).To(DType.Float16),
            ScalarType.Int32 => EngineTensor.FromArray(c.data<int>().ToArray(), shape, device),
            ScalarType.Int64 => EngineTensor.FromArray(c.data<long>().ToArray(), shape, device),
            ScalarType.Bool => EngineTensor.FromArray(c.data<bool>().ToArray(), shape, device),
            _ => throw new NotSupportedException($"TorchSharp dtype {c.dtype} has no engine counterpart."),
        };
    }
}
