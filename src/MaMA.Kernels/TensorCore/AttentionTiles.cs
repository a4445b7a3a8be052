using ILGPU;
using ILGPU.Runtime;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// What the tensor-core attention forward (<see cref="TensorCoreAttention"/>) and backward
/// (<see cref="TensorCoreAttentionBackward"/>) share: 64-row bf16 tiles of a head's [T, D] streamed
/// into shared memory by cp.async over a group of 128 threads, the pair of m16n8k16 products that
/// one ldmatrix.x4 feeds, a 16-row chunk of a d-contiguous tile as the B operand, and the
/// launchers' argument checks.
/// </summary>
internal static class AttentionTiles
{
    /// <summary>Rows per tile and threads per group of both kernels.</summary>
    public const int Rows = 64, Threads = 4 * MmaLayout.WarpSize;

    /// <summary>
    /// The first of the keys <paramref name="start"/> .. + <paramref name="count"/> - 1 of one batch
    /// row of the padding mask (<paramref name="keep"/>[<paramref name="start"/> + j], 0 = hidden) that
    /// the mask hides, as an offset from <paramref name="start"/>; <paramref name="count"/> when it
    /// hides none. Each lane reads every 32nd key from its own on and stops at its first hidden one,
    /// then five shuffles take the warp's minimum, so every lane returns the same value. A key tile
    /// before that offset is one the padding mask leaves whole: the kernels run it in their loop
    /// without the masking code (GPT-2's reports are padded at the end, so most of their tiles are).
    /// </summary>
    public static int FirstHidden(ArrayView<float> keep, long start, int count, int lane)
    {
        int first = count;
        for (int j = lane; j < count; j += MmaLayout.WarpSize)
        {
            if (keep[start + j] == 0f)
            {
                first = j;
                break;
            }
        }
        for (int offset = MmaLayout.WarpSize / 2; offset > 0; offset >>= 1)
        {
            int other = Warp.ShuffleXor(first, offset);
            first = other < first ? other : first;
        }
        return first;
    }

    /// <summary>
    /// cp.async of rows [row0, row0 + 64) of one head's [T, D] into a [64][pitch] tile: 16-byte
    /// chunks (8 bf16), 64 D / 8 of them over 128 threads, consecutive threads on consecutive chunks
    /// of a row (coalesced); rows at or past T are zero-filled. The head's row 0 is at element
    /// <paramref name="head"/> and its rows are <paramref name="stride"/> elements apart: D for
    /// [B, H, T, D], H D for heads joined as [B, T, H, D] (a multiple of 8, so chunks stay 16-byte aligned).
    /// </summary>
    public static void LoadTile<TMma>(TMma mma, ArrayView<ushort> smem, uint sbase, int tileStart, ArrayView<ushort> src, long address,
        long head, int stride, int row0, int t, int d, int pitch, int tid)
        where TMma : struct, IMma
    {
        // A fixed number of chunks per thread (4 at D = 64, 8 at D = 128: constants in the kernels' code).
        int chunksPerRow = d >> 3;
        int perThread = Rows * chunksPerRow / Threads;
        for (int i = 0; i < perThread; i++)
        {
            int c = tid + i * Threads;
            int r = c / chunksPerRow, col = (c - r * chunksPerRow) << 3;
            bool valid = row0 + r < t;
            long element = valid ? head + (long)(row0 + r) * stride + col : head;
            mma.CopyAsync16(smem, sbase, tileStart + r * pitch + col, src, element, address + 2 * element, valid);
        }
    }

    /// <summary>
    /// The double-buffered stream of tile pairs (K and V in the forward, Q and dO in the backward):
    /// when <paramref name="more"/>, start loading the next pair into the other buffers and wait for
    /// the current pair only (cp.async groups complete in order); else wait for everything. Then the
    /// group's barrier, so every thread sees the current pair. The first tensor is [B, H, T, D] (head
    /// at <paramref name="head"/>, rows D apart); the second's head and row stride are its own
    /// (<see cref="LoadTile"/>).
    /// </summary>
    public static void NextPairOrWait<TMma>(TMma mma, bool more, ArrayView<ushort> smem, uint sbase, int firstTile, ArrayView<ushort> first,
        long firstAddress, int secondTile, ArrayView<ushort> second, long secondAddress, long head, long secondHead, int secondStride,
        int row0, int t, int d, int pitch, int tid)
        where TMma : struct, IMma
    {
        if (more)
        {
            LoadTile(mma, smem, sbase, firstTile, first, firstAddress, head, d, row0, t, d, pitch, tid);
            LoadTile(mma, smem, sbase, secondTile, second, secondAddress, secondHead, secondStride, row0, t, d, pitch, tid);
            mma.CommitAsync();
            mma.WaitAsync(1);
        }
        else
        {
            mma.WaitAsync(0);
        }
        Group.Barrier();
    }

    /// <summary>
    /// C0 += A B0 and C1 += A B1, with both n8 B fragments from one ldmatrix.x4 at
    /// <paramref name="element"/> of the shared tile. When the tile's rows are already k-contiguous
    /// (K for S = Q K^T) <paramref name="trans"/> is false; for d-contiguous rows (V for O = P V)
    /// ldmatrix.x4.trans turns them into k-contiguous fragments.
    /// </summary>
    public static void MmaPair<TMma>(TMma mma, ref FragC c0, ref FragC c1, FragA a, ArrayView<ushort> smem, uint sbase, int element,
        ArrayView<uint> scratch, bool trans)
        where TMma : struct, IMma
    {
        LoadBPair(mma, smem, sbase, element, scratch, trans, out FragB b0, out FragB b1);
        mma.Bf16(ref c0, a, b0, scratch);
        mma.Bf16(ref c1, a, b1, scratch);
    }

    /// <summary>One ldmatrix.x4 at <paramref name="element"/> as two n8 B fragments: registers 0-1 and 2-3.</summary>
    public static void LoadBPair<TMma>(TMma mma, ArrayView<ushort> smem, uint sbase, int element, ArrayView<uint> scratch, bool trans,
        out FragB b0, out FragB b1)
        where TMma : struct, IMma
    {
        FragA bf = mma.LdMatrixX4(smem, sbase, element, scratch, trans);
        b0.R0 = bf.R0;
        b0.R1 = bf.R1;
        b1.R0 = bf.R2;
        b1.R1 = bf.R3;
    }

    /// <summary>
    /// acc[:, 0 .. D) += A B with B a 16-row chunk of a d-contiguous tile (ldmatrix.x4.trans):
    /// O += P V in the forward, dV += P^T dO and dK += dS^T Q in the backward. Columns 64 .. 127
    /// accumulate in <paramref name="acc1"/>.
    /// </summary>
    public static void PvChunk<TMma>(TMma mma, ref FragC8 acc0, ref FragC8 acc1, FragA a, ArrayView<ushort> smem, uint sbase, int element, int d,
        ArrayView<uint> scratch)
        where TMma : struct, IMma
    {
        MmaPair(mma, ref acc0.F0, ref acc0.F1, a, smem, sbase, element + 0, scratch, trans: true);
        MmaPair(mma, ref acc0.F2, ref acc0.F3, a, smem, sbase, element + 16, scratch, trans: true);
        MmaPair(mma, ref acc0.F4, ref acc0.F5, a, smem, sbase, element + 32, scratch, trans: true);
        MmaPair(mma, ref acc0.F6, ref acc0.F7, a, smem, sbase, element + 48, scratch, trans: true);
        if (d > 64)
        {
            MmaPair(mma, ref acc1.F0, ref acc1.F1, a, smem, sbase, element + 64, scratch, trans: true);
            MmaPair(mma, ref acc1.F2, ref acc1.F3, a, smem, sbase, element + 80, scratch, trans: true);
            MmaPair(mma, ref acc1.F4, ref acc1.F5, a, smem, sbase, element + 96, scratch, trans: true);
            MmaPair(mma, ref acc1.F6, ref acc1.F7, a, smem, sbase, element + 112, scratch, trans: true);
        }
    }

    /// <summary>
    /// The bf16 A fragment of keys [16c, 16c + 16) from the fp32 C fragments of keys 16c .. +7 and
    /// 16c + 8 .. +15 (the C layout of two n8 tiles is the A layout of one k16 step): four packed
    /// roundings, each one cvt.rn.bf16x2.f32 on CUDA. P in the forward; P and dS in the backward.
    /// </summary>
    public static FragA ToA<TMma>(TMma mma, FragC lo, FragC hi)
        where TMma : struct, IMma
    {
        FragA a;
        a.R0 = mma.PackBf16(lo.C0, lo.C1);
        a.R1 = mma.PackBf16(lo.C2, lo.C3);
        a.R2 = mma.PackBf16(hi.C0, hi.C1);
        a.R3 = mma.PackBf16(hi.C2, hi.C3);
        return a;
    }

    /// <summary>Head sizes both kernels take (the MaMA ViT's 64 and BioMedLM's 128).</summary>
    public static bool SupportsHeadDim(int headDim) => headDim is 64 or 128;

    /// <summary>
    /// Whether <paramref name="sharedElements"/> bf16 elements of dynamic shared memory fit
    /// <paramref name="optInLimitBytes"/>, the most one group may opt into
    /// (<see cref="DynamicSharedMemory.OptInLimitBytes"/>: about 99 KB on sm_86 / sm_89 cards).
    /// </summary>
    public static bool FitsWithin(int optInLimitBytes, int sharedElements) => (long)sharedElements * sizeof(ushort) <= optInLimitBytes;

    /// <summary>
    /// ILGPU declares the dynamic allocation with 4-byte alignment; cp.async and ldmatrix want 16:
    /// the number of bf16 elements from <paramref name="sharedBase"/> to the next 16-byte boundary.
    /// </summary>
    public static int AlignmentPad(uint sharedBase) => (int)((((sharedBase + 15u) & ~15u) - sharedBase) >> 1);

    /// <summary>Launcher check: non-negative sizes and a head size the kernels take.</summary>
    public static void CheckShape(string op, int batch, int heads, int t, int headDim)
    {
        if (batch < 0 || heads < 0 || t < 0)
            throw new ArgumentOutOfRangeException(nameof(t), $"{op}: negative size (B {batch}, H {heads}, T {t}).");
        if (!SupportsHeadDim(headDim))
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, $"{op}: head size D must be 64 or 128.");
    }

    /// <summary>Launcher check: a view holds at least the elements its shape needs.</summary>
    public static void Need(string op, string name, long length, long needed)
    {
        if (length < needed)
            throw new ArgumentException($"{op}: {name} has {length} elements but the shape needs {needed}.");
    }

    /// <summary>Device address of a view's first element; cp.async copies 16-byte chunks, so it must be 16-byte aligned.</summary>
    public static long Address(string op, ArrayView<ushort> view, string name)
    {
        long address = view.LoadEffectiveAddressAsPtr().ToInt64();
        if ((address & 15) != 0)
            throw new ArgumentException($"{op}: {name} starts at a device address that is not 16-byte aligned (copy it to a fresh tensor).");
        return address;
    }
}
