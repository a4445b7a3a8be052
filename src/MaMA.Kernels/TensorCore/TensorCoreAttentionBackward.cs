using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using BackwardBody = System.Action<ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, MaMA.Kernels.TensorCore.AttentionBackwardArgs>;
using BackwardLauncher = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>,
    ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<ushort>, MaMA.Kernels.TensorCore.AttentionBackwardArgs>;

using MaMA.Kernels.Random;

namespace MaMA.Kernels.TensorCore;

public static partial class TensorCoreAttentionBackward
{
    /// <summary>The op name in error messages.</summary>
    private const string Op = "tensor-core attention backward";

    /// <summary>The loaded kernels by accelerator and head size (one instantiation per D, <see cref="IHeadDim"/>; 111 KB at D = 128).</summary>
    private static readonly PerHeadDimKernels<BackwardLauncher> s_kernels =
        new((accelerator, headDim) => headDim == 64 ? Load<HeadDim64>(accelerator) : Load<HeadDim128>(accelerator), SharedElements);

    private static long s_launches;

    /// <summary>Kernel launches so far in this process (tests check that a path really ran).</summary>
    public static long Launches => Interlocked.Read(ref s_launches);

    /// <summary>Head sizes the kernel handles (as the forward: 64 and 128).</summary>
    public static bool Supports(int headDim) => AttentionTiles.SupportsHeadDim(headDim);

    /// <summary>
    /// Whether the kernel's shared memory for <paramref name="headDim"/> (111 KB at D = 128) fits the
    /// card's opt-in limit (<see cref="DynamicSharedMemory.OptInLimitBytes"/>); where it does not
    /// (sm_86 / sm_89 cards offer about 99 KB), the caller keeps the fp32 kernels.
    /// </summary>
    public static bool Fits(Accelerator accelerator, int headDim) =>
        Supports(headDim) && FitsWithin(DynamicSharedMemory.OptInLimitBytes(accelerator), headDim);

    /// <summary><see cref="Fits"/> for a given opt-in limit in bytes.</summary>
    public static bool FitsWithin(int optInLimitBytes, int headDim) => AttentionTiles.FitsWithin(optInLimitBytes, SharedElements(headDim));

    /// <summary>
    /// dq, dk, dv [B, H, T, D] (fp32) from contiguous bf16 q, k, v and output gradient g = dO
    /// [B, H, T, D] (or [B, T, H, D] when <paramref name="gJoined"/>: the gradient of a joined-heads
    /// forward output, read where it is), the forward's lse [B, H, T] and delta [B, H, T] = rowsum(dO * O), on
    /// <paramref name="stream"/>'s accelerator (CUDA: mma.sync, ldmatrix, cp.async; the ILGPU CPU
    /// simulator: its 32-lane companion, <see cref="WarpSimulator"/>). <paramref name="keep"/> [B, T]
    /// (1 keep, 0 pad) may be empty for no mask. dq is zeroed here and accumulated by atomics.
    /// Returns after the kernel has finished on the simulator; on CUDA it is queued.
    /// </summary>
    public static void Launch(AcceleratorStream stream, ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<ushort> g,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> keep, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv,
        int batch, int heads, int t, int headDim, bool causal, float scale, bool gJoined = false, DropoutMask dropout = default) =>
        Launch(stream, q, k, v, g, lse, delta, keep, dq, dk, dv, default, default, batch, heads, t, headDim, causal, scale, gJoined, kvBf16: false,
            dropout);

    /// <summary>
    /// As the fp32 overload with dk and dv in bf16 (rounded to nearest even in the kernel's store):
    /// the gradients of bf16 k and v, written once instead of fp32 then cast. dq stays fp32 (atomics).
    /// </summary>
    public static void Launch(AcceleratorStream stream, ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<ushort> g,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> keep, ArrayView<float> dq, ArrayView<ushort> dk, ArrayView<ushort> dv,
        int batch, int heads, int t, int headDim, bool causal, float scale, bool gJoined = false, DropoutMask dropout = default) =>
        Launch(stream, q, k, v, g, lse, delta, keep, dq, default, default, dk, dv, batch, heads, t, headDim, causal, scale, gJoined, kvBf16: true,
            dropout);

    private static void Launch(AcceleratorStream stream, ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<ushort> g,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> keep, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<ushort> dk16, ArrayView<ushort> dv16, int batch, int heads, int t, int headDim, bool causal, float scale, bool gJoined, bool kvBf16,
        DropoutMask dropout)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Validate(q.Length, k.Length, v.Length, g.Length, lse.Length, delta.Length, keep.Length, dq.Length,
            kvBf16 ? dk16.Length : dk.Length, kvBf16 ? dv16.Length : dv.Length, batch, heads, t, headDim);
        if ((long)batch * heads * t == 0) return;
        long elements = (long)batch * heads * t * headDim;
        var p = new AttentionBackwardArgs
        {
            T = t, Heads = heads, HeadDim = headDim, Causal = causal ? 1 : 0, HasMask = keep.Length > 0 ? 1 : 0, Scale = scale,
            GJoined = gJoined ? 1 : 0, KvBf16 = kvBf16 ? 1 : 0, Dropout = dropout,
        };
        // Kernels take every view: HasMask = 0 never reads keep, and KvBf16 picks dk, dv or dk16, dv16.
        if (keep.Length == 0) keep = lse;
        if (kvBf16) dk = dv = lse;
        else dk16 = dv16 = q;
        int shared = SharedElements(headDim);
        var config = new KernelConfig(new Index3D((t + BlockKV - 1) / BlockKV, batch * heads, 1), new Index3D(Threads, 1, 1),
            SharedMemoryConfig.RequestDynamic<ushort>(shared));
        Interlocked.Increment(ref s_launches);

        ArrayView<float> dqAll = dq.SubView(0, elements);
        Accelerator target = WarpSimulator.For(stream.Accelerator);
        if (ReferenceEquals(target, stream.Accelerator))
        {
            if (target.AcceleratorType == AcceleratorType.Cuda)
            {
                p.QAddress = AttentionTiles.Address(Op, q, "q");
                p.KAddress = AttentionTiles.Address(Op, k, "k");
                p.VAddress = AttentionTiles.Address(Op, v, "v");
                p.GAddress = AttentionTiles.Address(Op, g, "dO");
                p.DqAddress = dq.LoadEffectiveAddressAsPtr().ToInt64();
            }
            dqAll.MemSetToZero(stream);
            s_kernels.For(target, headDim)(stream, config, q, k, v, g, lse, delta, keep, dq, dk, dv, dk16, dv16, p);
            return;
        }
        dqAll.MemSetToZero(stream);
        stream.Synchronize();
        s_kernels.For(target, headDim)(target.DefaultStream, config, q, k, v, g, lse, delta, keep, dq, dk, dv, dk16, dv16, p);
        target.DefaultStream.Synchronize();
    }

    /// <summary>Checks the head size and that every view holds its [B, H, T, D] / [B, H, T] / [B, T] elements.</summary>
    public static void Validate(long qLength, long kLength, long vLength, long gLength, long lseLength, long deltaLength, long keepLength,
        long dqLength, long dkLength, long dvLength, int batch, int heads, int t, int headDim)
    {
        AttentionTiles.CheckShape(Op, batch, heads, t, headDim);
        long rows = (long)batch * heads * t, elements = rows * headDim;
        AttentionTiles.Need(Op, "q", qLength, elements);
        AttentionTiles.Need(Op, "k", kLength, elements);
        AttentionTiles.Need(Op, "v", vLength, elements);
        AttentionTiles.Need(Op, "dO", gLength, elements);
        AttentionTiles.Need(Op, "lse", lseLength, rows);
        AttentionTiles.Need(Op, "delta", deltaLength, rows);
        AttentionTiles.Need(Op, "dq", dqLength, elements);
        AttentionTiles.Need(Op, "dk", dkLength, elements);
        AttentionTiles.Need(Op, "dv", dvLength, elements);
        if (keepLength != 0) AttentionTiles.Need(Op, "keep", keepLength, (long)batch * t);
    }

    /// <summary>CUDA: through CudaKernelLoader, which keeps the mma fragments in registers (PtxLocalSlots); the simulator: the emulated mma.</summary>
    private static BackwardLauncher Load<TDim>(Accelerator accelerator) where TDim : struct, IHeadDim =>
        accelerator is CudaAccelerator cuda
            ? CudaKernelLoader.Load<BackwardLauncher>(cuda, new BackwardBody(FlashAttentionBackwardKernel<PtxMma, TDim>).Method)
            : accelerator.LoadKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<ushort>,
                AttentionBackwardArgs>(FlashAttentionBackwardKernel<EmulatedMma, TDim>);
}
