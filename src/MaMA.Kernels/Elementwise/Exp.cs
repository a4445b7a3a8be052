using ILGPU;

namespace MaMA.Kernels.Elementwise;

/// <summary>y = e^x and its derivative dx = dy * y (from the saved output); one index per element.</summary>
public static partial class Exponential
{
    [Kernel]
    private static void ForwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = MathF.Exp(x[i]);
    }

    [Kernel]
    private static void BackwardKernel(int i, [Extent("count")] ArrayView<float> y, [Extent("count")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dx)
    {
        dx[i] = dy[i] * y[i];
    }
}
