using ILGPU;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// fp32 atomic adds into global memory whose result nobody reads, for the attention backward's dq
/// (every key tile adds its share to the same query rows).
/// <para>
/// Why not <c>Atomic.Add</c>: ILGPU 1.5.3 at its default optimisation level keeps kernel views in
/// the generic address space, so <c>Atomic.Add</c> on a view becomes a generic <c>red.add.f32</c>.
/// A generic address may point into shared memory, which has no fp32 atomic add, so ptxas wraps
/// every such add in a space test (<c>QSPC</c>) and a compare-and-swap loop for the shared case:
/// about a dozen instructions and two branches around each add, and a warp makes 32 of them
/// per query tile at D = 64
/// (docs/gpu-kernels.md, "ptxas without a card"). Here the address is global by construction
/// (<c>red.global.add.f32</c>), one <c>RED</c> instruction each.
/// </para>
/// <para>
/// Addresses: ILGPU gives device code no address of a view (<see cref="SharedTile"/>), so the
/// launcher passes the device byte address of element 0, as it does for cp.async's sources. A
/// CUDA device pointer is a generic address that is also its global address (the global window
/// of the generic space is the identity), which is what cp.async's <c>.global</c> operand already
/// relies on.
/// </para>
/// </summary>
public static class GlobalRed
{
    /// <summary>The inline PTX of <see cref="AddPairPtx"/>: two adds at byte offsets 0 and 4 of %0.</summary>
    public const string AddPairInstruction = "red.global.add.f32 [%0], %1;\n\tred.global.add.f32 [%0+4], %2;";

    /// <summary>dst[0] += x0, dst[1] += x1 at device byte address <paramref name="address"/> (4-byte aligned), on CUDA.</summary>
    public static void AddPairPtx(long address, float x0, float x1)
    {
        Input<long> a = address;
        Input<float> v0 = x0, v1 = x1;
        CudaAsm.EmitRef(AddPairInstruction, ref a, ref v0, ref v1);
    }

    /// <summary>The same adds through the view, on the simulator.</summary>
    public static void AddPairPortable(ArrayView<float> dst, long index, float x0, float x1)
    {
        Atomic.Add(ref dst[index], x0);
        Atomic.Add(ref dst[index + 1], x1);
    }
}
