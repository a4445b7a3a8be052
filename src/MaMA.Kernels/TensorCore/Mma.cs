using ILGPU;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>One lane's A fragment of an m16n8k16 bf16 MMA: 8 bf16 in 4 packed registers (see <see cref="MmaLayout"/>).</summary>
public struct FragA
{
    public uint R0, R1, R2, R3;
}

/// <summary>One lane's B fragment: 4 bf16 in 2 packed registers.</summary>
public struct FragB
{
    public uint R0, R1;
}

/// <summary>One lane's fp32 C/D fragment: 4 floats (rows g, g, g+8, g+8; columns 2t, 2t+1, 2t, 2t+1).</summary>
public struct FragC
{
    public float C0, C1, C2, C3;
}

/// <summary>
/// The warp-level tensor-core tile: D = A B + C for A 16x16 bf16, B 16x8 bf16, C/D 16x8 fp32, every
/// lane of the warp calling with its own fragments. On CUDA this is one
/// <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c> (sm_80+; ILGPU emits sm_80 PTX).
/// Elsewhere (the ILGPU CPU simulator cannot run inline PTX) it is emulated with the same data
/// movement a warp would need without tensor cores: each lane gathers, by warp shuffles, the A rows
/// and B columns its four outputs need from the lanes that hold them per <see cref="MmaLayout"/>,
/// and accumulates the exact bf16 x bf16 products in fp32. The emulation therefore only gives the
/// right answer when callers load fragments exactly per the ISA layout, which is what the CPU tests
/// check. All 32 lanes must call it together (warp-synchronous; the simulator needs a warp size of 32).
/// </summary>
public static class Mma
{
    /// <summary>The inline PTX; %0-3 D, %4-7 A, %8-9 B, %10-13 C.</summary>
    public const string Bf16Instruction =
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};";

    /// <summary>
    /// acc = A B + acc for this lane's fragments, choosing by <see cref="CudaAsm.IsSupported"/>. On
    /// CUDA the emulated branch stays in the PTX text behind a constant-false predicate
    /// (<c>setp.ne.s32 %p, 1, 1</c>) that ptxas folds away; kernels that want clean PTX take an
    /// <see cref="IMma"/> type parameter instead and are loaded with <see cref="PtxMma"/> or
    /// <see cref="EmulatedMma"/> by the launcher.
    /// </summary>
    public static void MmaBf16(ref FragC acc, FragA a, FragB b)
    {
        if (CudaAsm.IsSupported) Ptx(ref acc, a, b);
        else Emulate(ref acc, a, b);
    }

    /// <summary>The tensor-core instruction itself (CUDA only: inline PTX cannot run elsewhere).</summary>
    public static void Ptx(ref FragC acc, FragA a, FragB b)
    {
        Output<float> d0 = default, d1 = default, d2 = default, d3 = default;
        Input<uint> a0 = a.R0, a1 = a.R1, a2 = a.R2, a3 = a.R3, b0 = b.R0, b1 = b.R1;
        Input<float> c0 = acc.C0, c1 = acc.C1, c2 = acc.C2, c3 = acc.C3;
        CudaAsm.EmitRef(Bf16Instruction,
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref c0, ref c1, ref c2, ref c3);
        acc.C0 = d0.Value;
        acc.C1 = d1.Value;
        acc.C2 = d2.Value;
        acc.C3 = d3.Value;
    }

    /// <summary>
    /// Lane (g, t) owns C rows g and g+8, columns 2t and 2t+1. For each of the four k-pairs slots
    /// j it fetches the 4 A registers of the lane holding A(g, 2j) (which, per the layout, also holds
    /// rows g+8 and k+8) and the 2 B registers of the lanes holding B(2j, 2t) and B(2j, 2t+1); every
    /// fetched value is then placed by the forward layout functions, not by hard-coded positions.
    /// </summary>
    public static void Emulate(ref FragC acc, FragA a, FragB b)
    {
        int lane = Warp.LaneIdx;
        int rowLo = MmaLayout.CRow(lane, 0), colLo = MmaLayout.CCol(lane, 0);
        float s0 = acc.C0, s1 = acc.C1, s2 = acc.C2, s3 = acc.C3;
        for (int j = 0; j < 4; j++)
        {
            int srcA = MmaLayout.ALane(rowLo, 2 * j);
            int srcB0 = MmaLayout.BLane(2 * j, colLo), srcB1 = MmaLayout.BLane(2 * j, colLo + 1);
            uint ra0 = Warp.Shuffle(a.R0, srcA), ra1 = Warp.Shuffle(a.R1, srcA);
            uint ra2 = Warp.Shuffle(a.R2, srcA), ra3 = Warp.Shuffle(a.R3, srcA);
            uint rb00 = Warp.Shuffle(b.R0, srcB0), rb01 = Warp.Shuffle(b.R1, srcB0);
            uint rb10 = Warp.Shuffle(b.R0, srcB1), rb11 = Warp.Shuffle(b.R1, srcB1);
            // Each A register r of srcA holds elements 2r, 2r+1; each B register q holds 2q, 2q+1.
            for (int r = 0; r < 4; r++)
            {
                uint ar = r == 0 ? ra0 : r == 1 ? ra1 : r == 2 ? ra2 : ra3;
                int row = MmaLayout.ARow(srcA, 2 * r);
                for (int q = 0; q < 2; q++)
                {
                    // Pair A register r with the B register covering the same two k.
                    if (MmaLayout.ACol(srcA, 2 * r) != MmaLayout.BRow(srcB0, 2 * q)) continue;
                    uint bLeft = q == 0 ? rb00 : rb01, bRight = q == 0 ? rb10 : rb11;
                    float dotLeft = Bf16Dot(ar, bLeft), dotRight = Bf16Dot(ar, bRight);
                    int colLeft = MmaLayout.BCol(srcB0, 2 * q), colRight = MmaLayout.BCol(srcB1, 2 * q);
                    if (row == MmaLayout.CRow(lane, 0) && colLeft == MmaLayout.CCol(lane, 0)) s0 += dotLeft;
                    if (row == MmaLayout.CRow(lane, 1) && colRight == MmaLayout.CCol(lane, 1)) s1 += dotRight;
                    if (row == MmaLayout.CRow(lane, 2) && colLeft == MmaLayout.CCol(lane, 2)) s2 += dotLeft;
                    if (row == MmaLayout.CRow(lane, 3) && colRight == MmaLayout.CCol(lane, 3)) s3 += dotRight;
                }
            }
        }
        acc.C0 = s0;
        acc.C1 = s1;
        acc.C2 = s2;
        acc.C3 = s3;
    }

    /// <summary>lo*lo + hi*hi of two packed bf16 pairs; each product is exact in fp32.</summary>
    private static float Bf16Dot(uint x, uint y) => Bf16.Low(x) * Bf16.Low(y) + Bf16.High(x) * Bf16.High(y);
}

/// <summary>An m16n8k16 bf16 MMA implementation, chosen when a kernel is loaded (a struct type parameter specialises without virtual calls).</summary>
public interface IMma
{
    void Bf16(ref FragC acc, FragA a, FragB b);
}

/// <summary>mma.sync through inline PTX: the CUDA instantiation.</summary>
public struct PtxMma : IMma
{
    public readonly void Bf16(ref FragC acc, FragA a, FragB b) => Mma.Ptx(ref acc, a, b);
}

/// <summary>The warp-shuffle emulation: the instantiation for the ILGPU CPU simulator.</summary>
public struct EmulatedMma : IMma
{
    public readonly void Bf16(ref FragC acc, FragA a, FragB b) => Mma.Emulate(ref acc, a, b);
}
