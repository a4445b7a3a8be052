using System.Runtime.CompilerServices;
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
/// Elsewhere (the ILGPU CPU simulator cannot run inline PTX) it is emulated with the data movement
/// a warp would need without tensor cores: every lane publishes its fragment registers to a
/// per-warp scratch in shared memory, and each lane then reads the A rows and B columns its four
/// outputs need from the lanes that hold them per <see cref="MmaLayout"/> (the inverse mapping)
/// and accumulates the exact bf16 x bf16 products in fp32. The emulation therefore only gives the
/// right answer when callers load fragments exactly per the ISA layout, which is what the CPU tests
/// check. All 32 lanes must call it together (warp-synchronous; the simulator needs 32-lane warps).
/// Shared memory rather than warp shuffles: a shuffle costs the CPU simulator three thread barriers
/// and the emulation would need 32 of them per mma; publishing costs two barriers in all.
/// </summary>
public static class Mma
{
    /// <summary>The inline PTX; %0-3 D, %4-7 A, %8-9 B, %10-13 C.</summary>
    public const string Bf16Instruction =
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};";

    /// <summary>Scratch words per lane for the emulation: 4 A registers + 2 B registers.</summary>
    public const int ScratchWordsPerLane = 6;

    /// <summary>Scratch words per warp for the emulation (a kernel allocates this per warp in shared memory).</summary>
    public const int ScratchWordsPerWarp = MmaLayout.WarpSize * ScratchWordsPerLane;

    /// <summary>
    /// acc = A B + acc for this lane's fragments, choosing by <see cref="CudaAsm.IsSupported"/>. On
    /// CUDA the emulated branch stays in the PTX text behind a constant-false predicate
    /// (<c>setp.ne.s32 %p, 1, 1</c>) that ptxas folds away; kernels that want clean PTX take an
    /// <see cref="IMma"/> type parameter instead and are loaded with <see cref="PtxMma"/> or
    /// <see cref="EmulatedMma"/> by the launcher. <paramref name="warpScratch"/>: this warp's
    /// <see cref="ScratchWordsPerWarp"/> words of shared memory (unused on CUDA).
    /// </summary>
    public static void MmaBf16(ref FragC acc, FragA a, FragB b, ArrayView<uint> warpScratch)
    {
        if (CudaAsm.IsSupported) Ptx(ref acc, a, b);
        else Emulate(ref acc, a, b, warpScratch);
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
    /// Publish (lane L's registers at words [6L, 6L + 6): A0..A3, B0, B1), barrier, then for each of
    /// this lane's outputs C(row, col) = sum_k A(row, k) B(k, col) with A(row, k) read from lane
    /// ALane(row, k), element AElement(row, k), and B likewise; barrier so the scratch can be reused.
    /// </summary>
    // A call, not inlined: inlined into every mma of the attention backward's four query loops,
    // the emulation grew ILGPU's LowerStructures pass past 13 GB while compiling for the simulator
    // (docs/gpu-kernels.md, "ptxas without a card"). CUDA never calls it (PtxMma).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Emulate(ref FragC acc, FragA a, FragB b, ArrayView<uint> warpScratch)
    {
        int lane = Warp.LaneIdx;
        int mine = lane * ScratchWordsPerLane;
        warpScratch[mine + 0] = a.R0;
        warpScratch[mine + 1] = a.R1;
        warpScratch[mine + 2] = a.R2;
        warpScratch[mine + 3] = a.R3;
        warpScratch[mine + 4] = b.R0;
        warpScratch[mine + 5] = b.R1;
        Warp.Barrier();
        acc.C0 += Dot(warpScratch, MmaLayout.CRow(lane, 0), MmaLayout.CCol(lane, 0));
        acc.C1 += Dot(warpScratch, MmaLayout.CRow(lane, 1), MmaLayout.CCol(lane, 1));
        acc.C2 += Dot(warpScratch, MmaLayout.CRow(lane, 2), MmaLayout.CCol(lane, 2));
        acc.C3 += Dot(warpScratch, MmaLayout.CRow(lane, 3), MmaLayout.CCol(lane, 3));
        Warp.Barrier();
    }

    /// <summary>sum over k of A(row, k) B(k, col) from the published registers; each product is exact in fp32.</summary>
    private static float Dot(ArrayView<uint> scratch, int row, int col)
    {
        float sum = 0f;
        for (int k = 0; k < MmaLayout.K; k++)
        {
            int ea = MmaLayout.AElement(row, k), eb = MmaLayout.BElement(k, col);
            uint aw = scratch[MmaLayout.ALane(row, k) * ScratchWordsPerLane + (ea >> 1)];
            uint bw = scratch[MmaLayout.BLane(k, col) * ScratchWordsPerLane + 4 + (eb >> 1)];
            sum += ((ea & 1) == 0 ? Bf16.Low(aw) : Bf16.High(aw)) * ((eb & 1) == 0 ? Bf16.Low(bw) : Bf16.High(bw));
        }
        return sum;
    }
}

/// <summary>
/// The warp-level tensor-core primitives (m16n8k16 bf16 MMA, ldmatrix, cp.async, packed bf16 rounding), chosen when a kernel is
/// loaded (a struct type parameter specialises without virtual calls): <see cref="PtxMma"/> on CUDA,
/// <see cref="EmulatedMma"/> on the CPU simulator.
/// </summary>
public interface IMma
{
    /// <summary>acc = A B + acc; <paramref name="warpScratch"/> is what <see cref="WarpScratch"/> gave this warp.</summary>
    void Bf16(ref FragC acc, FragA a, FragB b, ArrayView<uint> warpScratch);

    /// <summary>
    /// Called once per kernel by every thread: the shared scratch of warp <paramref name="warp"/> out of
    /// <paramref name="warps"/> (a compile-time constant) for <see cref="Bf16"/>; empty when none is needed.
    /// </summary>
    ArrayView<uint> WarpScratch(int warp, int warps);

    /// <summary>32-bit shared-window address of the kernel's dynamic shared memory (0 where addresses are not used).</summary>
    uint SharedBase();

    /// <summary>
    /// ldmatrix .x4 (.trans when <paramref name="transpose"/>) from the dynamic shared view
    /// <paramref name="smem"/>: this lane's row starts at element <paramref name="element"/>, byte
    /// address <paramref name="sharedBase"/> + 2 <paramref name="element"/> (16-byte aligned).
    /// </summary>
    FragA LdMatrixX4(ArrayView<ushort> smem, uint sharedBase, int element, ArrayView<uint> warpScratch, bool transpose);

    /// <summary>
    /// 8 bf16 from <paramref name="src"/>[<paramref name="srcElement"/>..] (device byte address
    /// <paramref name="srcAddress"/>) to <paramref name="smem"/>[<paramref name="element"/>..], or
    /// zeros when not <paramref name="valid"/>; complete after <see cref="WaitAsync"/> and a barrier.
    /// </summary>
    void CopyAsync16(ArrayView<ushort> smem, uint sharedBase, int element, ArrayView<ushort> src, long srcElement, long srcAddress, bool valid);

    /// <summary>Commits this thread's outstanding <see cref="CopyAsync16"/> as one group.</summary>
    void CommitAsync();

    /// <summary>Waits until at most <paramref name="pending"/> (0 to 2) committed groups are still in flight.</summary>
    void WaitAsync(int pending);

    /// <summary>Two fp32 rounded to bf16 and packed into one fragment register (<paramref name="lo"/> the lower-numbered element).</summary>
    uint PackBf16(float lo, float hi);

    /// <summary>2^x, results below the normal floats flushed to zero (<see cref="TensorCore.Exp2Ftz"/>).</summary>
    float Exp2(float x);

    /// <summary>e^x, results below the normal floats flushed to zero (<see cref="Exp2Ftz.ExpPtx"/>, <see cref="Exp2Ftz.ExpPortable"/>).</summary>
    float Exp(float x);

    /// <summary>
    /// fp32 atomic adds without a result (<see cref="GlobalRed"/>): <paramref name="dst"/>[<paramref name="index"/>] += x0
    /// and [index + 1] += x1; <paramref name="address"/> is the device byte address of dst[0] (CUDA; unused on the simulator).
    /// </summary>
    void AddPair(ArrayView<float> dst, long index, long address, float x0, float x1);
}

/// <summary>mma.sync through inline PTX: the CUDA instantiation (no scratch: no shared memory spent on the emulation).</summary>
public struct PtxMma : IMma
{
    public readonly void Bf16(ref FragC acc, FragA a, FragB b, ArrayView<uint> warpScratch) => Mma.Ptx(ref acc, a, b);

    public readonly ArrayView<uint> WarpScratch(int warp, int warps) => default;

    public readonly uint SharedBase() => SharedTile.SharedBasePtx();

    public readonly FragA LdMatrixX4(ArrayView<ushort> smem, uint sharedBase, int element, ArrayView<uint> warpScratch, bool transpose) =>
        SharedTile.LdMatrixX4Ptx(sharedBase + (uint)element * 2u, transpose);

    public readonly void CopyAsync16(ArrayView<ushort> smem, uint sharedBase, int element, ArrayView<ushort> src, long srcElement, long srcAddress, bool valid) =>
        SharedTile.CopyAsync16Ptx(sharedBase + (uint)element * 2u, srcAddress, valid);

    public readonly void CommitAsync() => SharedTile.CommitPtx();

    public readonly void WaitAsync(int pending) => SharedTile.WaitPtx(pending);

    public readonly uint PackBf16(float lo, float hi) => TensorCore.Bf16.PackRoundedPtx(lo, hi);

    public readonly float Exp2(float x) => Exp2Ftz.Ptx(x);

    public readonly float Exp(float x) => Exp2Ftz.ExpPtx(x);

    public readonly void AddPair(ArrayView<float> dst, long index, long address, float x0, float x1) =>
        GlobalRed.AddPairPtx(address + index * sizeof(float), x0, x1);
}

/// <summary>The shared-memory emulation: the instantiation for the ILGPU CPU simulator.</summary>
public struct EmulatedMma : IMma
{
    public readonly void Bf16(ref FragC acc, FragA a, FragB b, ArrayView<uint> warpScratch) => Mma.Emulate(ref acc, a, b, warpScratch);

    /// <summary>Kernels use at most 8 warps per group (256 threads), so one 8-warp allocation serves them all.</summary>
    public readonly ArrayView<uint> WarpScratch(int warp, int warps) =>
        SharedMemory.Allocate<uint>(MaxWarps * Mma.ScratchWordsPerWarp).SubView(warp * Mma.ScratchWordsPerWarp, Mma.ScratchWordsPerWarp);

    public readonly uint SharedBase() => 0u;

    public readonly FragA LdMatrixX4(ArrayView<ushort> smem, uint sharedBase, int element, ArrayView<uint> warpScratch, bool transpose) =>
        SharedTile.LdMatrixX4Emulated(smem, element, warpScratch, transpose);

    public readonly void CopyAsync16(ArrayView<ushort> smem, uint sharedBase, int element, ArrayView<ushort> src, long srcElement, long srcAddress, bool valid) =>
        SharedTile.CopyAsync16Emulated(smem, element, src, srcElement, valid);

    public readonly void CommitAsync()
    {
    }

    public readonly void WaitAsync(int pending)
    {
    }

    public readonly uint PackBf16(float lo, float hi) => TensorCore.Bf16.PackRounded(lo, hi);

    public readonly float Exp2(float x) => Exp2Ftz.Portable(x);

    public readonly float Exp(float x) => Exp2Ftz.ExpPortable(x);

    public readonly void AddPair(ArrayView<float> dst, long index, long address, float x0, float x1) =>
        GlobalRed.AddPairPortable(dst, index, x0, x1);

    /// <summary>Warps per group the scratch covers.</summary>
    public const int MaxWarps = 8;
}
