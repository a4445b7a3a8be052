namespace MaMA.Kernels.Random;

/// <summary>Four 32-bit words: one Philox counter block or one block of random output.</summary>
public struct UInt4
{
    public uint X0;
    public uint X1;
    public uint X2;
    public uint X3;

    public UInt4(uint x0, uint x1, uint x2, uint x3)
    {
        X0 = x0;
        X1 = x1;
        X2 = x2;
        X3 = x3;
    }

    /// <summary>Word <paramref name="lane"/> (0..3).</summary>
    public readonly uint Lane(int lane) => lane == 0 ? X0 : lane == 1 ? X1 : lane == 2 ? X2 : X3;

    public override readonly string ToString() => $"{X0:x8} {X1:x8} {X2:x8} {X3:x8}";
}

/// <summary>
/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
/// counter-based generator, out = bijection_key(counter), so any element's random bits are a pure
/// function of (key, counter) and can be recomputed anywhere (dropout regenerates its keep-mask in
/// backward instead of storing it). Scalar-only static code: callable from kernel bodies (ILGPU
/// device code) and from the host alike, with identical results.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53u;
    private const uint M1 = 0xCD9E8D57u;
    private const uint W0 = 0x9E3779B9u; // golden ratio
    private const uint W1 = 0xBB67AE85u; // sqrt(3) - 1

    /// <summary>The ten-round Philox-4x32 bijection of counter (c0..c3) under key (k0, k1).</summary>
    public static UInt4 Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            uint n0 = hi1 ^ c1 ^ k0;
            uint n2 = hi0 ^ c3 ^ k1;
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
        }
        return new UInt4(c0, c1, c2, c3);
    }

    /// <summary>
    /// Uniform float in [0, 1) from the top 24 bits of a random word (exactly representable). The
    /// 24 bits go through int: C#'s uint-to-float conversion compiles to a float64 round trip on
    /// ILGPU (<c>cvt.rn.f64.u32</c> in PTX, <c>double</c> in OpenCL C), slow on consumer cards and
    /// refused by OpenCL devices without fp64; int to float is one exact conversion.
    /// </summary>
    public static float ToUniform(uint bits) => (int)(bits >> 8) * (1f / 16777216f);
}
