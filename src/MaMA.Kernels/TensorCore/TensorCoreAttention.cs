using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ForwardBody = System.Action<ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<float>, MaMA.Kernels.TensorCore.AttentionArgs>;
using ForwardLauncher = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>,
    ILGPU.ArrayView<ushort>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<float>,
    MaMA.Kernels.TensorCore.AttentionArgs>;

using MaMA.Kernels.Random;

namespace MaMA.Kernels.TensorCore;

public static partial class TensorCoreAttention
{
    /// <summary>The op name in error messages.</summary>
    private const string Op = "tensor-core attention";

    /// <summary>The loaded kernels by accelerator and head size (one instantiation per D, <see cref="IHeadDim"/>; 68 KB at D = 128).</summary>
    private static readonly PerHeadDimKernels<ForwardLauncher> s_kernels =
        new((accelerator, headDim) => headDim == 64 ? Load<HeadDim64>(accelerator) : Load<HeadDim128>(accelerator), SharedElements);

    /// <summary>Head sizes the kernel handles (the MaMA ViT's 64 and BioMedLM's 128).</summary>
    public static bool Supports(int headDim) => AttentionTiles.SupportsHeadDim(headDim);

    /// <summary>
    /// Whether the kernel's shared memory for <paramref name="headDim"/> (68 KB at D = 128) fits the
    /// card's opt-in limit (<see cref="DynamicSharedMemory.OptInLimitBytes"/>); where it does not
    /// (sm_86 / sm_89 cards offer about 99 KB), the caller keeps the fp32 kernels.
    /// </summary>
    public static bool Fits(Accelerator accelerator, int headDim) =>
        Supports(headDim) && FitsWithin(DynamicSharedMemory.OptInLimitBytes(accelerator), headDim);

    /// <summary><see cref="Fits"/> for a given opt-in limit in bytes.</summary>
    public static bool FitsWithin(int optInLimitBytes, int headDim) => AttentionTiles.FitsWithin(optInLimitBytes, SharedElements(headDim));

    /// <summary>
    /// o (fp32) and lse [B, H, T] from contiguous bf16 q, k, v [B, H, T, D], on
    /// <paramref name="stream"/>'s accelerator (CUDA: mma.sync, ldmatrix, cp.async) or, for the
    /// ILGPU CPU simulator, its 32-lane companion (<see cref="WarpSimulator"/>, the emulated
    /// instructions). o is [B, H, T, D], or [B, T, H, D] when <paramref name="joinHeads"/>.
    /// <paramref name="keep"/> [B, T] (1 keep, 0 pad) may be empty for no mask.
    /// Returns after the kernel has finished on the simulator; on CUDA it is queued.
    /// </summary>
    public static void Launch(AcceleratorStream stream, ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<float> keep,
        ArrayView<float> o, ArrayView<float> lse, int batch, int heads, int t, int headDim, bool causal, float scale, bool joinHeads = false,
        DropoutMask dropout = default) =>
        Launch(stream, q, k, v, keep, o, default, lse, batch, heads, t, headDim, causal, scale, joinHeads, bf16Out: false, dropout);

    /// <summary>
    /// As the fp32 overload with a bf16 output <paramref name="o"/> (rounded to nearest even in the
    /// kernel's store): the operand a bf16 product reads next, written once instead of fp32 then cast.
    /// </summary>
    public static void Launch(AcceleratorStream stream, ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<float> keep,
        ArrayView<ushort> o, ArrayView<float> lse, int batch, int heads, int t, int headDim, bool causal, float scale, bool joinHeads = false,
        DropoutMask dropout = default) =>
        Launch(stream, q, k, v, keep, default, o, lse, batch, heads, t, headDim, causal, scale, joinHeads, bf16Out: true, dropout);

    private static void Launch(AcceleratorStream stream, ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<float> keep,
        ArrayView<float> o, ArrayView<ushort> o16, ArrayView<float> lse, int batch, int heads, int t, int headDim, bool causal, float scale,
        bool joinHeads, bool bf16Out, DropoutMask dropout)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Validate(q.Length, k.Length, v.Length, keep.Length, bf16Out ? o16.Length : o.Length, lse.Length, batch, heads, t, headDim);
        // The kernel takes row maxima of the unscaled scores, which needs scale > 0 (every MaMA attention's is).
        if (!(scale > 0f) || !float.IsFinite(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{Op}: the score scale must be positive and finite.");
        if ((long)batch * heads * t == 0) return;
        var p = new AttentionArgs
        {
            T = t, Heads = heads, HeadDim = headDim, Causal = causal ? 1 : 0, HasMask = keep.Length > 0 ? 1 : 0, Scale = scale,
            JoinHeads = joinHeads ? 1 : 0, OutBf16 = bf16Out ? 1 : 0, Dropout = dropout,
        };
        // Kernels take every view: HasMask = 0 never reads keep, and OutBf16 picks one of o, o16.
        if (keep.Length == 0) keep = lse;
        if (bf16Out) o = lse;
        else o16 = q;
        int shared = SharedElements(headDim);
        var config = new KernelConfig(new Index3D((t + BlockQ(headDim) - 1) / BlockQ(headDim), batch * heads, 1), new Index3D(Threads, 1, 1),
            SharedMemoryConfig.RequestDynamic<ushort>(shared));

        Accelerator target = WarpSimulator.For(stream.Accelerator);
        if (ReferenceEquals(target, stream.Accelerator))
        {
            if (target.AcceleratorType == AcceleratorType.Cuda)
            {
                p.QAddress = AttentionTiles.Address(Op, q, "q");
                p.KAddress = AttentionTiles.Address(Op, k, "k");
                p.VAddress = AttentionTiles.Address(Op, v, "v");
            }
            s_kernels.For(target, headDim)(stream, config, q, k, v, keep, o, o16, lse, p);
            return;
        }
        stream.Synchronize();
        s_kernels.For(target, headDim)(target.DefaultStream, config, q, k, v, keep, o, o16, lse, p);
        target.DefaultStream.Synchronize();
    }

    /// <summary>Checks the head size and that every view holds its [B, H, T, D] / [B, T] / [B, H, T] elements.</summary>
    public static void Validate(long qLength, long kLength, long vLength, long keepLength, long oLength, long lseLength,
        int batch, int heads, int t, int headDim)
    {
        AttentionTiles.CheckShape(Op, batch, heads, t, headDim);
        long rows = (long)batch * heads * t, elements = rows * headDim;
        AttentionTiles.Need(Op, "q", qLength, elements);
        AttentionTiles.Need(Op, "k", kLength, elements);
        AttentionTiles.Need(Op, "v", vLength, elements);
        AttentionTiles.Need(Op, "o", oLength, elements);
        AttentionTiles.Need(Op, "lse", lseLength, rows);
        if (keepLength != 0) AttentionTiles.Need(Op, "keep", keepLength, (long)batch * t);
    }

    /// <summary>CUDA: through CudaKernelLoader, which keeps the mma fragments in registers (PtxLocalSlots); the simulator: the emulated mma.</summary>
    private static ForwardLauncher Load<TDim>(Accelerator accelerator) where TDim : struct, IHeadDim =>
        accelerator is CudaAccelerator cuda
            ? CudaKernelLoader.Load<ForwardLauncher>(cuda, new ForwardBody(FlashAttentionKernel<PtxMma, TDim>).Method)
            : accelerator.LoadKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>,
                ArrayView<float>, AttentionArgs>(FlashAttentionKernel<EmulatedMma, TDim>);
}
