using ILGPU;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// y[i] = value: constant tensors made on the device (Tensor.Full, the all-keep attention mask)
/// instead of uploaded from a host array, which synchronised the stream.
/// </summary>
public static partial class Fill
{
    [Kernel]
    private static void ValueKernel(int i, [Extent("count")] ArrayView<float> y, float value)
    {
        y[i] = value;
    }
}
