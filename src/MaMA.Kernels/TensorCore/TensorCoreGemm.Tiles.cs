using ILGPU;

namespace MaMA.Kernels.TensorCore;

public static partial class TensorCoreGemm
{
    /// <summary>
    /// Tile k0 .. k0 + 31 of A (rows BlockRow ..) and B (columns BlockCol ..) into pipeline stage
    /// <paramref name="stage"/>; with <paramref name="bothAsync"/> (a constant) both by cp.async,
    /// so the element-wise code is not compiled in, else each operand as its flag says.
    /// </summary>
    private static void LoadTiles<TMma>(TMma mma, GemmTile g, int k0, int stage, bool aK, bool bK, bool bothAsync)
        where TMma : struct, IMma
    {
        GemmArgs p = g.P;
        int aSlot = g.Slots + stage * StageElements, bSlot = aSlot + SlotElements;
        // A(m, k) = a[base + m ARow + k ACol]; B(k, n) = b[base + k BRow + n BCol], so B's rows here are n.
        LoadOperand(mma, g, g.A, p.AAddress, bothAsync || p.AAsync != 0, aK, g.ABase, p.ARow, p.ACol, p.M, g.BlockRow, k0, aSlot);
        LoadOperand(mma, g, g.B, p.BAddress, bothAsync || p.BAsync != 0, bK, g.BBase, p.BCol, p.BRow, p.N, g.BlockCol, k0, bSlot);
    }

    /// <summary>
    /// Rows r0 .. r0 + 127 (m of A, n of B) and k0 .. k0 + 31 of one operand X(r, k) =
    /// x[base + r rowStride + k kStride] into its slot: [r][KPitch] when <paramref name="kFast"/>,
    /// else [k][MnPitch]; zero past <paramref name="rows"/> and K.
    /// <paramref name="async"/> (the launcher's check: the fast axis is unit-stride, 16-byte aligned
    /// and a multiple of 8 long, so every 8-element chunk is inside or wholly past the end): two
    /// 16-byte cp.async per thread, consecutive threads on consecutive chunks of a row. Otherwise 16
    /// elements per thread through registers, consecutive threads along the fast axis.
    /// </summary>
    private static void LoadOperand<TMma>(TMma mma, GemmTile g, ArrayView<ushort> x, long address, bool async, bool kFast,
        long xBase, long rowStride, long kStride, int rows, int r0, int k0, int slot)
        where TMma : struct, IMma
    {
        int k = g.P.K, tid = g.Tid;
        if (async)
        {
            // 512 chunks of 8: k-contiguous 128 rows x 4, else 32 k x 16.
            for (int i = 0; i < 2; i++)
            {
                int c = tid + i * Threads;
                int r = kFast ? c >> 2 : (c & 15) << 3, kk = kFast ? (c & 3) << 3 : c >> 4;
                bool valid = r0 + r < rows && k0 + kk < k;
                long element = valid ? xBase + (r0 + r) * rowStride + (k0 + kk) * kStride : xBase;
                int to = kFast ? slot + r * KPitch + kk : slot + kk * MnPitch + r;
                mma.CopyAsync16(g.Smem, g.SBase, to, x, element, address + 2 * element, valid);
            }
            return;
        }
        LoadElementwise(g.Smem, x, kFast, xBase, rowStride, kStride, rows, r0, k, k0, slot, tid);
    }

    /// <summary>The element-wise tile load: 16 elements per thread through registers, consecutive threads along the fast axis.</summary>
    private static void LoadElementwise(ArrayView<ushort> smem, ArrayView<ushort> x, bool kFast, long xBase, long rowStride, long kStride,
        int rows, int r0, int k, int k0, int slot, int tid)
    {
        for (int i = 0; i < BlockM * BlockK / Threads; i++)
        {
            // k fastest: 8 rows x 32 k per pass; else rows fastest: 128 rows x 2 k per pass.
            int r = kFast ? (tid >> 5) + 8 * i : tid & (BlockM - 1);
            int kk = kFast ? tid & (BlockK - 1) : (tid >> 7) + 2 * i;
            int gr = r0 + r, gk = k0 + kk;
            smem[kFast ? slot + r * KPitch + kk : slot + kk * MnPitch + r] = gr < rows && gk < k ? x[xBase + gr * rowStride + gk * kStride] : (ushort)0;
        }
    }
}
