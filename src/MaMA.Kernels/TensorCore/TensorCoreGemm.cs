using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

public static partial class TensorCoreGemm
{
    private static readonly Dictionary<Accelerator, Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, GemmArgs,
        ArrayView<float>, ArrayView<float>, ArrayView<float>>> s_kernels = new();

    /// <summary>
    /// C = alpha A B + beta C (+ bias, + LoRA term) per <paramref name="p"/>, on
    /// <paramref name="stream"/>'s accelerator (CUDA: mma.sync) or, for the ILGPU CPU simulator, on
    /// its 32-lane companion (<see cref="WarpSimulator"/>; the emulated mma). Unused epilogue views
    /// may be empty. <paramref name="stages"/>: the pipeline's depth, 2 to 4, or 0 for the card's
    /// (<see cref="StagesFor(Accelerator)"/>). Returns after the kernel has finished on the simulator; on CUDA it is queued.
    /// </summary>
    public static void Launch(AcceleratorStream stream, ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, GemmArgs p,
        ArrayView<float> bias = default, ArrayView<float> loraU = default, ArrayView<float> loraB = default, int stages = 0)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Validate(a.Length, b.Length, c.Length, p, bias.Length, loraU.Length, loraB.Length);
        if (p.M == 0 || p.N == 0 || p.Batch == 0) return;
        // Keep every view non-empty: kernels take them even when the epilogue ignores them.
        if (bias.Length == 0) bias = c;
        if (loraU.Length == 0) loraU = c;
        if (loraB.Length == 0) loraB = c;
        Accelerator target = WarpSimulator.For(stream.Accelerator);
        if (stages == 0) stages = StagesFor(target);
        if (stages < MinStages || stages > MaxStages)
            throw new ArgumentOutOfRangeException(nameof(stages), stages, $"tensor-core gemm: the pipeline takes {MinStages} to {MaxStages} stages.");
        if (!AttentionTiles.FitsWithin(DynamicSharedMemory.OptInLimitBytes(target), SharedElements(stages)))
            throw new ArgumentOutOfRangeException(nameof(stages), stages,
                $"tensor-core gemm: {stages} stages take {SharedElements(stages) * 2} bytes of shared memory, over this card's {DynamicSharedMemory.OptInLimitBytes(target)}.");
        p.Stages = stages;
        var config = new KernelConfig(new Index3D((p.N + BlockN - 1) / BlockN, (p.M + BlockM - 1) / BlockM, p.Batch), new Index3D(Threads, 1, 1),
            SharedMemoryConfig.RequestDynamic<ushort>(SharedElements(stages)));
        // cp.async reads device addresses: the simulator's views are host memory, whose addresses decide the same way.
        p.AAddress = p.K > 0 ? a.LoadEffectiveAddressAsPtr().ToInt64() : 0;
        p.BAddress = p.K > 0 ? b.LoadEffectiveAddressAsPtr().ToInt64() : 0;
        p.AAsync = p.K > 0 && AsyncCopies(p.AKFast != 0, p.ACol, p.ARow, p.ABatch, p.K, p.M, p.AAddress) ? 1 : 0;
        p.BAsync = p.K > 0 && AsyncCopies(p.BKFast != 0, p.BRow, p.BCol, p.BBatch, p.K, p.N, p.BAddress) ? 1 : 0;

        if (ReferenceEquals(target, stream.Accelerator))
        {
            Kernel(target)(stream, config, a, b, c, p, bias, loraU, loraB);
            return;
        }
        stream.Synchronize();
        Kernel(target)(target.DefaultStream, config, a, b, c, p, bias, loraU, loraB);
        target.DefaultStream.Synchronize();
    }

    private static readonly Dictionary<Accelerator, int> s_stages = new();

    /// <summary>
    /// The pipeline depth for <paramref name="accelerator"/>: on CUDA by <see cref="StagesFor(int, int)"/>
    /// from the card's opt-in limit and shared memory per SM; the simulator takes the deepest.
    /// </summary>
    public static int StagesFor(Accelerator accelerator)
    {
        if (accelerator is not CudaAccelerator cuda) return MaxStages;
        lock (s_stages)
        {
            if (!s_stages.TryGetValue(accelerator, out int stages))
                s_stages[accelerator] = stages = StagesFor(DynamicSharedMemory.OptInLimitBytes(cuda), cuda.MaxSharedMemoryPerMultiprocessor);
            return stages;
        }
    }

    /// <summary>
    /// The deepest pipeline (<see cref="MaxStages"/> down to <see cref="MinStages"/>) that keeps two
    /// groups on an SM, as the kernel's registers allow (124 in ptxas 11.8; two groups of 256
    /// threads need 128 or fewer): its shared memory within the opt-in limit, and twice that, plus
    /// the 1 KB per group the driver reserves, within the SM's. H100 and A100: 4 stages (80 KB);
    /// sm_86 / sm_89 / sm_120 cards (100 KB per SM): 2, as two groups of 40 KB hide more latency
    /// than one of 80 KB.
    /// </summary>
    public static int StagesFor(int optInLimitBytes, int sharedPerSmBytes)
    {
        const int ReservedPerGroup = 1024;
        for (int stages = MaxStages; stages > MinStages; stages--)
        {
            int bytes = SharedElements(stages) * sizeof(ushort);
            if (bytes <= optInLimitBytes && 2L * (bytes + ReservedPerGroup) <= sharedPerSmBytes) return stages;
        }
        return MinStages;
    }

    /// <summary>
    /// Whether an operand's tiles can stream in by 16-byte cp.async: its fast axis (k when
    /// <paramref name="kFast"/>, else m or n) is unit-stride and a multiple of 8 elements long, so a
    /// chunk of 8 is wholly inside or wholly past the end; the other and the batch strides are
    /// multiples of 8 and element 0 is 16-byte aligned, so every chunk is aligned.
    /// </summary>
    public static bool AsyncCopies(bool kFast, long kStride, long rowStride, long batchStride, int k, int rows, long address) =>
        (kFast ? kStride == 1 && rowStride % 8 == 0 && k % 8 == 0 : rowStride == 1 && kStride % 8 == 0 && rows % 8 == 0)
        && batchStride % 8 == 0 && (address & 15) == 0;

    /// <summary>Checks shapes, strides and that every addressed element lies inside its view.</summary>
    public static void Validate(long aLength, long bLength, long cLength, GemmArgs p, long biasLength, long loraULength, long loraBLength)
    {
        if (p.M < 0 || p.N < 0 || p.K < 0 || p.Batch < 0)
            throw new ArgumentOutOfRangeException(nameof(p), $"tensor-core gemm: negative size (M {p.M}, N {p.N}, K {p.K}, batch {p.Batch}).");
        if (p.ARow < 0 || p.ACol < 0 || p.BRow < 0 || p.BCol < 0 || p.ABatch < 0 || p.BBatch < 0 || p.CBatch < 0 || p.Ldc < p.N)
            throw new ArgumentOutOfRangeException(nameof(p), "tensor-core gemm: strides must be non-negative and Ldc >= N.");
        if (p.M == 0 || p.N == 0 || p.Batch == 0) return;
        long z = p.Batch - 1;
        if (p.K > 0)
        {
            Need("A", aLength, z * p.ABatch + (p.M - 1L) * p.ARow + (p.K - 1L) * p.ACol + 1);
            Need("B", bLength, z * p.BBatch + (p.K - 1L) * p.BRow + (p.N - 1L) * p.BCol + 1);
        }
        Need("C", cLength, z * p.CBatch + (p.M - 1L) * p.Ldc + p.N);
        if (p.HasBias != 0) Need("bias", biasLength, p.N);
        if (p.LoraRank < 0) throw new ArgumentOutOfRangeException(nameof(p), "tensor-core gemm: LoRA rank must be >= 0.");
        if (p.LoraRank > 0)
        {
            if (p.Batch != 1) throw new ArgumentException("tensor-core gemm: the LoRA epilogue takes one batch (flatten rows into M).", nameof(p));
            Need("lora U", loraULength, (long)p.M * p.LoraRank);
            Need("lora B", loraBLength, (long)p.N * p.LoraRank);
        }
    }

    private static void Need(string name, long length, long needed)
    {
        if (length < needed)
            throw new ArgumentException($"tensor-core gemm: {name} has {length} elements but the shape and strides address {needed}.");
    }

    private static Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, GemmArgs,
        ArrayView<float>, ArrayView<float>, ArrayView<float>> Kernel(Accelerator accelerator)
    {
        lock (s_kernels)
        {
            if (!s_kernels.TryGetValue(accelerator, out var kernel))
            {
                // CUDA: through CudaKernelLoader, which keeps the mma fragments in registers (PtxLocalSlots).
                kernel = accelerator is CudaAccelerator cuda
                    ? CudaKernelLoader.Load<Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, GemmArgs,
                        ArrayView<float>, ArrayView<float>, ArrayView<float>>>(cuda,
                        new Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, GemmArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GemmKernel<PtxMma>).Method)
                    : accelerator.LoadKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, GemmArgs,
                        ArrayView<float>, ArrayView<float>, ArrayView<float>>(GemmKernel<EmulatedMma>);
                // Above 48 KB (3 or 4 stages) only with the opt-in; capped at the card's limit, which Launch checks.
                DynamicSharedMemory.AllowUpToLimit(kernel, accelerator, SharedElements(MaxStages));
                s_kernels[accelerator] = kernel;
            }
            return kernel;
        }
    }
}
