using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using MaMA.Engine.Memory;

namespace MaMA.Engine.Devices;

/// <summary>
/// The fast CPU backend: 64-byte aligned native memory from a caching allocator; kernels run as
/// generated multi-threaded loops or hand-written SIMD code.
/// </summary>
public sealed class CpuDevice : Device
{
    internal const int Alignment = 64;

    public static readonly CpuDevice Instance = new();

    private readonly CachingAllocator<CpuBlock> _allocator;

    private CpuDevice()
    {
        _allocator = new CachingAllocator<CpuBlock>("cpu", AllocateBlock, FreeBlock);
        // Kernel scratch space is native memory outside the allocator; its failure reads like a tensor's,
        // naming the scratch and its exact size (small buffers print as 0.0 MiB).
        Kernels.Cpu.ScratchMemory.OutOfMemory = (bytes, kernel, e) =>
            new DeviceOutOfMemoryException("cpu", bytes, _allocator.AllocatedBytes, _allocator.LimitBytes, e,
                $" of kernel scratch space ({kernel}, {bytes.ToString(System.Globalization.CultureInfo.InvariantCulture)} bytes)");
    }

    public override DeviceKind Kind => DeviceKind.Cpu;

    public override string Name => $"cpu ({Environment.ProcessorCount} cores, {SimdName()})";

    public override string Spec => "cpu";

    public override long AllocatedBytes => _allocator.AllocatedBytes;

    public override long PeakAllocatedBytes => _allocator.PeakAllocatedBytes;

    public override void ResetPeakAllocatedBytes() => _allocator.ResetPeak();

    internal CachingAllocator<CpuBlock> Allocator => _allocator;

    internal override Storage Allocate(long bytes)
    {
        (CpuBlock block, long capacity) = _allocator.Rent(bytes);
        return new CpuStorage(this, block, bytes, capacity);
    }

    public override void Synchronize()
    {
    }

    public override void EmptyCache() => _allocator.EmptyCache();

    private static unsafe CpuBlock AllocateBlock(long bytes)
    {
        void* p = NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
        if (p == null) throw new OutOfMemoryException($"cpu: cannot allocate {bytes} bytes.");
        GC.AddMemoryPressure(bytes);
        return new CpuBlock((nint)p, bytes);
    }

    private static unsafe void FreeBlock(CpuBlock block)
    {
        NativeMemory.AlignedFree((void*)block.Address);
        GC.RemoveMemoryPressure(block.Bytes);
    }

    private static string SimdName() =>
        Avx512F.IsSupported ? "AVX-512" : Avx2.IsSupported ? "AVX2" : System.Numerics.Vector.IsHardwareAccelerated ? $"SIMD {System.Numerics.Vector<float>.Count * 32}-bit" : "scalar";
}

/// <summary>One native allocation.</summary>
internal sealed record CpuBlock(nint Address, long Bytes);

/// <summary>Storage in native CPU memory; kernels get a raw pointer.</summary>
internal sealed class CpuStorage : Storage
{
    private readonly CpuBlock _block;

    public CpuStorage(CpuDevice device, CpuBlock block, long byteLength, long capacity)
        : base(device, byteLength, capacity) => _block = block;

    public nint Address => _block.Address;

    protected override void ReturnBlock() => ((CpuDevice)Device).Allocator.Return(_block, Capacity);
}
