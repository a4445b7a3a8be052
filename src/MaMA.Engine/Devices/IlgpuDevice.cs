using ILGPU;
using ILGPU.Runtime;
using MaMA.Engine.Memory;

namespace MaMA.Engine.Devices;

/// <summary>
/// A device driven by ILGPU: CUDA, OpenCL, or ILGPU's CPU accelerator (which runs the GPU kernels
/// on CPU threads; used to verify kernels without a GPU). One in-order stream per device.
/// </summary>
public sealed class IlgpuDevice : Device
{
    private readonly CachingAllocator<MemoryBuffer1D<byte, Stride1D.Dense>> _allocator;

    internal IlgpuDevice(DeviceKind kind, Accelerator accelerator, string spec)
    {
        Kind = kind;
        Accelerator = accelerator;
        Spec = spec;
        Stream = accelerator.DefaultStream;
        _allocator = new CachingAllocator<MemoryBuffer1D<byte, Stride1D.Dense>>(
            spec, bytes => accelerator.Allocate1D<byte>(bytes), buffer => buffer.Dispose());
    }

    public override DeviceKind Kind { get; }

    public Accelerator Accelerator { get; }

    public AcceleratorStream Stream { get; }

    public override string Name => $"{Spec} {Accelerator.Name}";

    /// <summary>Whether bf16 products, attention and the loss similarities take the tensor-core kernels here (CUDA at sm_80+, the simulator).</summary>
    public bool RunsTensorCores => MaMA.Kernels.TensorCore.TensorCoreSupport.Available(Accelerator);

    /// <summary>
    /// For a CUDA card, whether the bf16 tensor-core kernels run on it (sm_80 or newer,
    /// <see cref="MaMA.Kernels.TensorCore.TensorCoreSupport"/>) or its bf16 work takes the fp32 kernels; null off CUDA.
    /// </summary>
    public string? TensorCores => Accelerator is ILGPU.Runtime.Cuda.CudaAccelerator cuda
        ? MaMA.Kernels.TensorCore.TensorCoreSupport.Describe(cuda.Architecture)
        : null;

    public override string Spec { get; }

    public override long AllocatedBytes => _allocator.AllocatedBytes;

    public override long PeakAllocatedBytes => _allocator.PeakAllocatedBytes;

    public override void ResetPeakAllocatedBytes() => _allocator.ResetPeak();

    internal CachingAllocator<MemoryBuffer1D<byte, Stride1D.Dense>> Allocator => _allocator;

    internal override Storage Allocate(long bytes)
    {
        (MemoryBuffer1D<byte, Stride1D.Dense> buffer, long capacity) = _allocator.Rent(bytes);
        return new IlgpuStorage(this, buffer, bytes, capacity);
    }

    public override void Synchronize() => Stream.Synchronize();

    public override void BindToCurrentThread() => Accelerator.Bind();

    public override void EmptyCache() => _allocator.EmptyCache();
}

/// <summary>Storage in an ILGPU buffer; kernels get typed views into it.</summary>
internal sealed class IlgpuStorage : Storage
{
    public IlgpuStorage(IlgpuDevice device, MemoryBuffer1D<byte, Stride1D.Dense> buffer, long byteLength, long capacity)
        : base(device, byteLength, capacity) => Buffer = buffer;

    public MemoryBuffer1D<byte, Stride1D.Dense> Buffer { get; }

    protected override void ReturnBlock() => ((IlgpuDevice)Device).Allocator.Return(Buffer, Capacity);
}
