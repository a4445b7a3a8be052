using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Shared-memory tile movement for the tensor-core kernels: <c>ldmatrix</c> (shared -> fragment
/// registers) and <c>cp.async</c> (global -> shared without passing through registers), as inline
/// PTX on CUDA and emulated with the same data movement on the ILGPU CPU simulator.
/// <para>
/// Addresses. ILGPU 1.5.3 gives device code no way to turn a view into an address (its
/// <c>LoadEffectiveAddressAsPtr</c> is host-only, <c>Unsafe.AsPointer</c> is not an intrinsic and a
/// pointer cannot be converted to an integer in its IL frontend). Both instructions need one, so:
/// shared memory is the kernel's dynamic shared allocation, which ILGPU's PTX backend always names
/// <c>__dyn_shared_alloca</c>; <see cref="SharedBasePtx"/> reads its 32-bit shared-window address
/// with <c>mov.u32</c>, and element e of the dynamic view is at that base + 2e bytes. Global
/// addresses are the buffers' device pointers, taken on the host and passed as kernel arguments.
/// The emulated paths use the views and element indices and ignore the addresses.
/// </para>
/// </summary>
public static class SharedTile
{
    /// <summary>The name ILGPU's PTX backend (1.5.3) gives a kernel's dynamic shared memory.</summary>
    public const string DynamicSharedSymbol = "__dyn_shared_alloca";

    /// <summary>Four 8x8 b16 matrices; lane L gives the address of row L % 8 of matrix L / 8.</summary>
    public const string LdMatrixX4Instruction = "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];";

    /// <summary>As <see cref="LdMatrixX4Instruction"/>, each matrix transposed on the way.</summary>
    public const string LdMatrixX4TransInstruction = "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];";

    /// <summary>16 bytes global -> shared, bypassing L1; src-size %2 = 0 writes 16 zero bytes and reads nothing.</summary>
    public const string CpAsyncInstruction = "cp.async.cg.shared.global [%0], [%1], 16, %2;";

    /// <summary>32-bit shared-window address of the dynamic shared allocation (CUDA only).</summary>
    public static uint SharedBasePtx()
    {
        Output<uint> b = default;
        CudaAsm.EmitRef("mov.u32 %0, " + DynamicSharedSymbol + ";", ref b);
        return b.Value;
    }

    /// <summary>ldmatrix .x4 on CUDA: this lane's row address is <paramref name="address"/> (shared window, 16-byte aligned).</summary>
    public static FragA LdMatrixX4Ptx(uint address, bool transpose)
    {
        Output<uint> r0 = default, r1 = default, r2 = default, r3 = default;
        Input<uint> a = address;
        if (transpose) CudaAsm.EmitRef(LdMatrixX4TransInstruction, ref r0, ref r1, ref r2, ref r3, ref a);
        else CudaAsm.EmitRef(LdMatrixX4Instruction, ref r0, ref r1, ref r2, ref r3, ref a);
        FragA f;
        f.R0 = r0.Value;
        f.R1 = r1.Value;
        f.R2 = r2.Value;
        f.R3 = r3.Value;
        return f;
    }

    /// <summary>
    /// ldmatrix .x4 emulated: lanes publish their row's element index, then lane L reads, for each
    /// matrix m, the pair (row L / 4, columns 2 (L % 4), +1) (or transposed: rows 2 (L % 4), +1 of
    /// column L / 4) from the row addresses lanes 8m .. 8m + 7 gave: the PTX ISA's fragment rule.
    /// </summary>
    // A call, not inlined: inlined into every ldmatrix of the attention backward's four query loops,
    // the emulation grew ILGPU's LowerStructures pass past 13 GB while compiling for the simulator
    // (docs/gpu-kernels.md, "ptxas without a card"). CUDA never calls it (PtxMma).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static FragA LdMatrixX4Emulated(ArrayView<ushort> smem, int element, ArrayView<uint> warpScratch, bool transpose)
    {
        int lane = Warp.LaneIdx;
        warpScratch[lane] = (uint)element;
        Warp.Barrier();
        FragA f;
        f.R0 = Piece(smem, warpScratch, 0, lane, transpose);
        f.R1 = Piece(smem, warpScratch, 1, lane, transpose);
        f.R2 = Piece(smem, warpScratch, 2, lane, transpose);
        f.R3 = Piece(smem, warpScratch, 3, lane, transpose);
        Warp.Barrier();
        return f;
    }

    private static uint Piece(ArrayView<ushort> smem, ArrayView<uint> rows, int matrix, int lane, bool transpose)
    {
        int g = lane >> 2, t = lane & 3;
        if (!transpose)
        {
            int start = (int)rows[matrix * 8 + g];
            return Bf16.Pack(smem[start + 2 * t], smem[start + 2 * t + 1]);
        }
        return Bf16.Pack(smem[(int)rows[matrix * 8 + 2 * t] + g], smem[(int)rows[matrix * 8 + 2 * t + 1] + g]);
    }

    /// <summary>cp.async of 16 bytes (8 bf16) on CUDA; <paramref name="valid"/> false zero-fills (the source address must still be mapped).</summary>
    public static void CopyAsync16Ptx(uint sharedAddress, long globalAddress, bool valid)
    {
        Input<uint> dst = sharedAddress, size = valid ? 16u : 0u;
        Input<long> src = globalAddress;
        CudaAsm.EmitRef(CpAsyncInstruction, ref dst, ref src, ref size);
    }

    /// <summary>The emulated copy: synchronous, so commit and wait are no-ops there.</summary>
    public static void CopyAsync16Emulated(ArrayView<ushort> smem, int element, ArrayView<ushort> src, long srcElement, bool valid)
    {
        for (int i = 0; i < 8; i++) smem[element + i] = valid ? src[srcElement + i] : (ushort)0;
    }

    /// <summary>Closes the group of cp.async issued by this thread since the last commit.</summary>
    public static void CommitPtx() => CudaAsm.Emit("cp.async.commit_group;");

    /// <summary>
    /// Waits until at most <paramref name="pending"/> (0 to 2) of this thread's committed groups are
    /// in flight; a larger count waits as for 2, which is safe (it only waits for more). The count is
    /// an immediate in PTX: a constant argument leaves one instruction, a run-time one (the GEMM's
    /// stage count) a branch per value.
    /// </summary>
    public static void WaitPtx(int pending)
    {
        if (pending <= 0) CudaAsm.Emit("cp.async.wait_group 0;");
        else if (pending == 1) CudaAsm.Emit("cp.async.wait_group 1;");
        else CudaAsm.Emit("cp.async.wait_group 2;");
    }
}
