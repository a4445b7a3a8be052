using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MaMA.Kernels.Random;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// The engine's dropout keep-mask on the fast CPU backend, bit for bit that of <see cref="Random.Dropout"/>
/// and <see cref="DropoutMask"/>: element e of a flattened tensor is lane g % 4 of Philox-4x32-10
/// block g / 4 at counter (g / 4, 0, offset.lo, offset.hi), key (seed.lo, seed.hi), where
/// g = <see cref="Base"/> + e; kept elements are scaled by 1 / (1 - p). <see cref="Off"/> (the default)
/// keeps everything at scale 1 and draws nothing. Users: <c>Ops.Dropout</c>, LoRA's input dropout
/// (<see cref="LoraSimd"/>) and the attention-probability dropout (<see cref="AttentionCpu"/>).
/// </summary>
public readonly struct PhiloxDropout
{
    /// <param name="p">Drop probability.</param>
    /// <param name="seed">The stream's Philox key.</param>
    /// <param name="offset">The stream's position (one per forward).</param>
    /// <param name="elementBase">Element index of x's first element in the whole batch: a data-parallel
    /// rank's rows then draw the masks those rows get in one process (0 there).</param>
    public PhiloxDropout(float p, ulong seed, ulong offset, long elementBase = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementBase);
        Base = elementBase;
        Active = true;
        Probability = p;
        KeepProb = 1f - p;
        Scale = KeepProb > 0f ? 1f / KeepProb : 0f;
        SeedLo = (uint)seed;
        SeedHi = (uint)(seed >> 32);
        OffsetLo = (uint)offset;
        OffsetHi = (uint)(offset >> 32);
        Seed = seed;
        Offset = offset;
    }

    public static PhiloxDropout Off => default;

    public bool Active { get; }

    /// <summary>The drop probability p (kept as given: every mask compares with 1 - p computed from it).</summary>
    public float Probability { get; }

    public float KeepProb { get; }

    public float Scale { get; }

    public ulong Seed { get; }

    public ulong Offset { get; }

    /// <summary>Element index of x's first element in the whole batch (0 in one process).</summary>
    public long Base { get; }

    /// <summary>The same mask as the accelerator kernels' parameter (<see cref="DropoutMask.Off"/> when off).</summary>
    public DropoutMask ForKernels => Active ? new() { P = Probability, Scale = Scale, Seed = Seed, Offset = Offset, Base = Base } : DropoutMask.Off;

    public uint SeedLo { get; }

    public uint SeedHi { get; }

    public uint OffsetLo { get; }

    public uint OffsetHi { get; }

    /// <summary>
    /// dst[i] = dropout factor of element e0 + i (Scale or 0), for i &lt; n. Bit-identical to the Dropout
    /// kernel's mask: whole runs of eight Philox blocks go through <see cref="Philox8"/> (AVX-512), the
    /// rest through the scalar <see cref="Philox.Block"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Fill(long e0, int n, float* dst)
    {
        // Global indices g = Base + e; dst[i] holds g0 + i.
        long g0 = Base + e0;
        long e = g0, end = g0 + n;
        // kept <=> ToUniform(w) = (w >> 8) 2^-24 < KeepProb <=> (w >> 8) < ceil(KeepProb 2^24) (both sides exact).
        uint threshold = (uint)Math.Ceiling((double)KeepProb * 16777216.0);
        while (e < end)
        {
            if ((e & 3) == 0 && end - e >= 32 && Avx512F.IsSupported)
            {
                Philox8Factors((uint)(e >> 2), threshold, dst + (e - g0));
                e += 32;
                continue;
            }
            UInt4 block = Philox.Block((uint)(e >> 2), 0u, OffsetLo, OffsetHi, SeedLo, SeedHi);
            for (int lane = (int)(e & 3); lane < 4 && e < end; lane++, e++)
                dst[e - g0] = Philox.ToUniform(block.Lane(lane)) < KeepProb ? Scale : 0f;
        }
    }

    /// <summary>
    /// The factors of the 32 elements of the eight Philox-4x32-10 blocks at counters (g0 + b, 0,
    /// offset.lo, offset.hi), b &lt; 8, as <see cref="Philox.Block"/> computes them: each 32-bit word
    /// in the low half of a 64-bit lane, the 32 x 32 -> 64 products by vpmuludq. Word j of block b
    /// decides element 4 b + j: kept (dst = Scale) when (word &gt;&gt; 8) &lt; <paramref name="threshold"/>,
    /// else 0. The compare and select run on the four word vectors; two rounds of vpermt2d put the
    /// results in element order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void Philox8Factors(uint g0, uint threshold, float* dst)
    {
        var low = Vector512.Create(0xFFFFFFFFUL);
        Vector512<ulong> c0 = (Vector512.Create((ulong)g0) + Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7)) & low;
        Vector512<ulong> c1 = Vector512<ulong>.Zero;
        Vector512<ulong> c2 = Vector512.Create((ulong)OffsetLo);
        Vector512<ulong> c3 = Vector512.Create((ulong)OffsetHi);
        Vector512<uint> m0 = Vector512.Create((ulong)0xD2511F53u).AsUInt32();
        Vector512<uint> m1 = Vector512.Create((ulong)0xCD9E8D57u).AsUInt32();
        uint k0 = SeedLo, k1 = SeedHi;
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += 0x9E3779B9u;
                k1 += 0xBB67AE85u;
            }
            Vector512<ulong> p0 = Avx512F.Multiply(c0.AsUInt32(), m0);
            Vector512<ulong> p1 = Avx512F.Multiply(c2.AsUInt32(), m1);
            Vector512<ulong> n0 = Vector512.ShiftRightLogical(p1, 32) ^ c1 ^ Vector512.Create((ulong)k0);
            Vector512<ulong> n2 = Vector512.ShiftRightLogical(p0, 32) ^ c3 ^ Vector512.Create((ulong)k1);
            c0 = n0;
            c1 = p1 & low;
            c2 = n2;
            c3 = p0 & low;
        }
        // Word j of block b is lane b of cj (each lane below 2^32: products' halves, xors of 32-bit values).
        var limit = Vector512.Create((ulong)threshold);
        var scale = Vector512.Create((ulong)BitConverter.SingleToUInt32Bits(Scale));
        Vector512<uint> Factors(Vector512<ulong> w) =>
            (Vector512.LessThan(Vector512.ShiftRightLogical(w, 8), limit) & scale).AsUInt32();
        Vector512<uint> f0 = Factors(c0), f1 = Factors(c1), f2 = Factors(c2), f3 = Factors(c3);
        // uint lane 2 b of fj holds (b, j). First pairs: a01[2 b + j] = (b, j) for j < 2, a23 likewise for j = 2, 3.
        Vector512<uint> pairs = Vector512.Create(0u, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        Vector512<uint> a01 = Avx512F.PermuteVar16x32x2(f0, pairs, f1);
        Vector512<uint> a23 = Avx512F.PermuteVar16x32x2(f2, pairs, f3);
        // Then element order: out[4 b + j] = a01[2 b + j] (j < 2) or a23[2 b + j - 2].
        Vector512<uint> lowBlocks = Vector512.Create(0u, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        Vector512<uint> highBlocks = Vector512.Create(8u, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
        Avx512F.PermuteVar16x32x2(a01, lowBlocks, a23).AsSingle().Store(dst);
        Avx512F.PermuteVar16x32x2(a01, highBlocks, a23).AsSingle().Store(dst + 16);
    }
}
