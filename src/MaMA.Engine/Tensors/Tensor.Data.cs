using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Device = MaMA.Engine.Devices.Device;
using MaMA.Engine.Devices;
using MaMA.Engine.Memory;

namespace MaMA.Engine.Tensors;

/// <summary>Creating tensors and moving their bytes between host and devices.</summary>
public partial class Tensor
{
    /// <summary>Uninitialised contiguous tensor.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        device ??= Device.Cpu;
        int[] s = shape.ToArray();
        long bytes = Tensors.Shape.Numel(s) * dtype.Size();
        Storage storage = device.Allocate(bytes);
        return new Tensor(storage, 0, s, Tensors.Shape.ContiguousStrides(s), dtype);
    }

    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        Tensor t = Empty(shape, dtype, device);
        t.ZeroBytes();
        return t;
    }

    /// <summary>Tensor filled with <paramref name="value"/> (fp32), written on its device (queued on an accelerator's stream, no upload).</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, float value, Device? device = null)
    {
        Tensor t = Empty(shape, DType.Float32, device);
        int n = checked((int)t.Numel);
        if (n == 0) return t;
        switch (t.Storage)
        {
            case CpuStorage:
                unsafe
                {
                    new Span<float>(t.Ptr<float>(), n).Fill(value);
                }
                break;
            case IlgpuStorage:
                MaMA.Kernels.Elementwise.Fill.Value.Launch(((IlgpuDevice)t.Device).Stream, n, t.View<float>(), value);
                break;
        }
        return t;
    }

    public static Tensor Ones(ReadOnlySpan<int> shape, Device? device = null) => Full(shape, 1f, device);

    /// <summary>0-d fp32 tensor.</summary>
    public static Tensor Scalar(float value, Device? device = null) => FromArray([value], [], device);

    /// <summary>Copies host data into a new contiguous tensor of the matching dtype.</summary>
    public static Tensor FromArray<T>(T[] data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged
        => FromSpan<T>(data, shape, device);

    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged
    {
        if (data.Length != Tensors.Shape.Numel(shape))
            throw new ArgumentException($"{data.Length} values do not fill shape {Tensors.Shape.Format(shape)}.");
        Tensor t = Empty(shape, DTypeExtensions.Of<T>(), device);
        t.CopyFromHost(MemoryMarshal.AsBytes(data));
        return t;
    }

    /// <summary>Tensor of a 16-bit float dtype from its raw bits (bf16 or fp16).</summary>
    public static Tensor FromBits(ushort[] bits, ReadOnlySpan<int> shape, DType dtype, Device? device = null)
    {
        if (dtype is not (DType.BFloat16 or DType.Float16)) throw new ArgumentException("FromBits takes BFloat16 or Float16.");
        if (bits.Length != Tensors.Shape.Numel(shape)) throw new ArgumentException($"{bits.Length} values do not fill shape {Tensors.Shape.Format(shape)}.");
        Tensor t = Empty(shape, dtype, device);
        t.CopyFromHost(MemoryMarshal.AsBytes(bits.AsSpan()));
        return t;
    }

    /// <summary>Tensor from raw little-endian bytes (safetensors payloads).</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> shape, DType dtype, Device? device = null)
    {
        long expected = Tensors.Shape.Numel(shape) * dtype.Size();
        if (bytes.Length != expected)
            throw new ArgumentException($"{bytes.Length} bytes do not hold a {dtype} tensor of shape {Tensors.Shape.Format(shape)} ({expected} bytes).");
        Tensor t = Empty(shape, dtype, device);
        t.CopyFromHost(bytes);
        return t;
    }

    /// <summary>Elements in row-major order, copied to the host.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeExtensions.Of<T>() != DType)
            throw new InvalidOperationException($"Tensor is {DType}; ToArray<{typeof(T).Name}> needs {DTypeExtensions.Of<T>()}. Use ToFloatArray() for any floating dtype.");
        var result = new T[Numel];
        Contiguous().CopyToHost(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>Values as fp32 (bf16/fp16 widened), row-major.</summary>
    public float[] ToFloatArray() => DType == DType.Float32 ? ToArray<float>() : To(DType.Float32).ToArray<float>();

    /// <summary>
    /// How many elements are NaN or infinite (0 for integer tensors). A contiguous fp32 tensor on the
    /// CPU is checked in place, vectorised, and only counted when some value is not finite: loading a
    /// model checks every weight (2.7 B for MaMA), which a float[] copy of each slowed (<c>mama bench load</c> times the check).
    /// Elsewhere the values are copied to the host as fp32 first.
    /// </summary>
    public unsafe long CountNonFinite()
    {
        if (!DType.IsFloating() || Numel == 0) return 0;
        if (Storage is CpuStorage && DType == DType.Float32 && IsContiguous)
        {
            float* p = Ptr<float>();
            long bad = 0;
            // Spans hold at most int.MaxValue elements: a tensor of more is checked in slices.
            for (long start = 0; start < Numel; start += int.MaxValue)
            {
                var span = new ReadOnlySpan<float>(p + start, (int)Math.Min(int.MaxValue, Numel - start));
                if (System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(span)) continue;
                foreach (float v in span)
                    if (!float.IsFinite(v)) bad++;
            }
            return bad;
        }
        long count = 0;
        foreach (float v in ToFloatArray())
            if (!float.IsFinite(v)) count++;
        return count;
    }

    /// <summary>Raw bytes of the elements in row-major order.</summary>
    public byte[] ToBytes()
    {
        var result = new byte[Numel * DType.Size()];
        Contiguous().CopyToHost(result);
        return result;
    }

    /// <summary>The single value of a one-element fp32 tensor.</summary>
    public float Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs one element, tensor has shape {Tensors.Shape.Format(_shape)}.");
        return ToFloatArray()[0];
    }

    /// <summary>Copy to another device (or this tensor's contiguous copy when already there).</summary>
    public Tensor To(Device device)
    {
        if (ReferenceEquals(device, Device)) return this;
        Tensor src = Contiguous();
        var bytes = new byte[Numel * DType.Size()];
        src.CopyToHost(bytes);
        Tensor dst = FromBytes(bytes, _shape, DType, device);
        if (RequiresGrad) Autograd.GradMode.RecordIfNeeded(dst, new Autograd.ToDeviceNode(this));
        return dst;
    }

    // ---- raw byte movement; this tensor must be contiguous ----

    internal void ZeroBytes()
    {
        long bytes = Numel * DType.Size();
        if (bytes == 0) return;
        switch (Storage)
        {
            case CpuStorage:
                unsafe
                {
                    NativeMemory.Clear(Ptr<byte>(), (nuint)bytes);
                }
                break;
            case IlgpuStorage s:
                s.Buffer.View.SubView(Offset * DType.Size(), bytes).MemSetToZero(((IlgpuDevice)Device).Stream);
                break;
        }
    }

    /// <summary>
    /// Host-to-accelerator copies since start. Each synchronises the stream, so ops keep them out of
    /// their launches (shapes and strides go to kernels by value); tests check that with this count.
    /// </summary>
    public static long DeviceUploads => Interlocked.Read(ref s_deviceUploads);

    private static long s_deviceUploads;

    internal void CopyFromHost(ReadOnlySpan<byte> bytes)
    {
        RequireContiguous();
        if (bytes.Length == 0) return;
        switch (Storage)
        {
            case CpuStorage:
                unsafe
                {
                    bytes.CopyTo(new Span<byte>(Ptr<byte>(), bytes.Length));
                }
                break;
            case IlgpuStorage s:
                // Pageable host memory: the copy must finish before the span may change, so this synchronises.
                Interlocked.Increment(ref s_deviceUploads);
                var stream = ((IlgpuDevice)Device).Stream;
                s.Buffer.View.SubView(Offset * DType.Size(), bytes.Length).CopyFromCPU(stream, bytes);
                stream.Synchronize();
                break;
        }
    }

    internal void CopyToHost(Span<byte> bytes)
    {
        RequireContiguous();
        if (bytes.Length == 0) return;
        switch (Storage)
        {
            case CpuStorage:
                unsafe
                {
                    new ReadOnlySpan<byte>(Ptr<byte>(), bytes.Length).CopyTo(bytes);
                }
                break;
            case IlgpuStorage s:
                var stream = ((IlgpuDevice)Device).Stream;
                s.Buffer.View.SubView(Offset * DType.Size(), bytes.Length).CopyToCPU(stream, bytes);
                stream.Synchronize();
                break;
        }
    }

    private void RequireContiguous()
    {
        if (!IsContiguous) throw new InvalidOperationException("Internal error: raw copy of a non-contiguous view; call Contiguous() first.");
    }
}
