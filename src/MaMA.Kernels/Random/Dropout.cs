using ILGPU;

namespace MaMA.Kernels.Random;

/// <summary>
/// Inverted dropout with a counter-based keep-mask. Element e of x has the global index
/// g = base + e (base: x's first element in the whole batch, 0 in one process); its keep decision is
/// word g % 4 of Philox-4x32-10 at counter (g / 4, 0, offset.lo, offset.hi) under key (seed.lo,
/// seed.hi), kept when uniform(word) &lt; keepProb. Launch index q covers the global block
/// blockBase + q (blockBase = base / 4), i.e. elements 4q + j - lead for j in 0..3 (lead = base % 4)
/// that fall inside [0, n). The mask is a pure function of (seed, offset, global index), so backward
/// runs the same kernel over dy, and a data-parallel rank's rows draw the masks they have in one
/// process with the whole batch.
/// </summary>
public static partial class Dropout
{
    /// <summary>y[i] = keep(base + i) ? x[i] * scale : 0, for i &lt; n; count = ceil((lead + n) / 4).</summary>
    [Kernel(CpuGrain = 1024)]
    private static void ApplyKernel(int q, [Extent("n")] ArrayView<float> x, [Extent("n")] ArrayView<float> y, int n, float keepProb, float scale,
        uint seedLo, uint seedHi, uint offsetLo, uint offsetHi, uint blockBase, int lead)
    {
        UInt4 r = Philox.Block(blockBase + (uint)q, 0u, offsetLo, offsetHi, seedLo, seedHi);
        long i = 4L * q - lead;
        if (i >= 0 && i < n) y[i] = Philox.ToUniform(r.X0) < keepProb ? x[i] * scale : 0f;
        if (i + 1 >= 0 && i + 1 < n) y[i + 1] = Philox.ToUniform(r.X1) < keepProb ? x[i + 1] * scale : 0f;
        if (i + 2 >= 0 && i + 2 < n) y[i + 2] = Philox.ToUniform(r.X2) < keepProb ? x[i + 2] * scale : 0f;
        if (i + 3 < n) y[i + 3] = Philox.ToUniform(r.X3) < keepProb ? x[i + 3] * scale : 0f;
    }
}
