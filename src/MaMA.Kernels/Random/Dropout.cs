using ILGPU;

namespace MaMA.Kernels.Random;

/// <summary>
/// Inverted dropout with a counter-based keep-mask: launch index g covers elements 4g..4g+3, whose
/// keep decisions are the four words of Philox-4x32-10 at counter (g, 0, offset.lo, offset.hi) under
/// key (seed.lo, seed.hi); element 4g + j is kept when uniform(word j) &lt; keepProb. The mask is a
/// pure function of (seed, offset, element index), so backward runs the same kernel over dy.
/// </summary>
public static partial class Dropout
{
    /// <summary>y[i] = keep(i) ? x[i] * scale : 0, for i &lt; n; count = ceil(n / 4).</summary>
    [Kernel(CpuGrain = 1024)]
    private static void ApplyKernel(int g, [Extent("n")] ArrayView<float> x, [Extent("n")] ArrayView<float> y, int n, float keepProb, float scale,
        uint seedLo, uint seedHi, uint offsetLo, uint offsetHi)
    {
        UInt4 r = Philox.Block((uint)g, 0u, offsetLo, offsetHi, seedLo, seedHi);
        long i = 4L * g;
        if (i < n) y[i] = Philox.ToUniform(r.X0) < keepProb ? x[i] * scale : 0f;
        if (i + 1 < n) y[i + 1] = Philox.ToUniform(r.X1) < keepProb ? x[i + 1] * scale : 0f;
        if (i + 2 < n) y[i + 2] = Philox.ToUniform(r.X2) < keepProb ? x[i + 2] * scale : 0f;
        if (i + 3 < n) y[i + 3] = Philox.ToUniform(r.X3) < keepProb ? x[i + 3] * scale : 0f;
    }
}
