using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Dynamic shared memory above 48 KB per group on CUDA. A kernel may use at most 48 KB of shared
/// memory unless its function is opted in with
/// <c>cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes)</c>; ILGPU 1.5.3 has
/// no API for it, so this calls the driver directly (P/Invoke on libcuda) with the function handle
/// of the loaded kernel (<see cref="CudaKernel.FunctionPtr"/>). The opt-in ceiling is the device's
/// CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN (227 KB on H100, 163 KB on A100), static
/// and dynamic shared memory together. Launch with
/// <c>SharedMemoryConfig.RequestDynamic&lt;T&gt;(count)</c> in the <see cref="ILGPU.KernelConfig"/>.
/// On CPU accelerators there is no limit and nothing to do.
/// </summary>
public static class DynamicSharedMemory
{
    /// <summary>Shared memory a kernel may use without opting in.</summary>
    public const int DefaultLimitBytes = 48 * 1024;

    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES (cuda.h, CUfunction_attribute).</summary>
    public const int FuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN (cuda.h, CUdevice_attribute).</summary>
    public const int DeviceAttributeMaxSharedMemoryPerBlockOptin = 97;

    /// <summary>
    /// The (attribute, value) pair for cuFuncSetAttribute that lets a kernel with
    /// <paramref name="staticBytes"/> of static shared memory launch with
    /// <paramref name="dynamicBytes"/> of dynamic shared memory on a device whose opt-in ceiling is
    /// <paramref name="optInLimitBytes"/>; an error names the sizes when the total does not fit.
    /// </summary>
    public static (int Attribute, int Value) Arguments(int dynamicBytes, int staticBytes, int optInLimitBytes)
    {
        if (dynamicBytes < 0) throw new ArgumentOutOfRangeException(nameof(dynamicBytes), dynamicBytes, "dynamic shared memory must be >= 0 bytes.");
        if (staticBytes < 0) throw new ArgumentOutOfRangeException(nameof(staticBytes), staticBytes, "static shared memory must be >= 0 bytes.");
        if ((long)dynamicBytes + staticBytes > optInLimitBytes)
            throw new ArgumentOutOfRangeException(nameof(dynamicBytes), dynamicBytes,
                $"shared memory {staticBytes} static + {dynamicBytes} dynamic bytes exceeds the device's opt-in limit of {optInLimitBytes} bytes per group; use smaller tiles.");
        return (FuncAttributeMaxDynamicSharedSizeBytes, dynamicBytes);
    }

    private static readonly Dictionary<Accelerator, int> s_limits = new();

    /// <summary>
    /// The most dynamic shared memory one group may opt into on <paramref name="accelerator"/>:
    /// cuDeviceGetAttribute(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) on CUDA (about 99 KB on sm_86 / sm_89,
    /// 163 KB on the A100, 227 KB on the H100), unbounded elsewhere (the simulator).
    /// </summary>
    public static int OptInLimitBytes(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (accelerator is not CudaAccelerator cuda) return int.MaxValue;
        lock (s_limits)
        {
            if (!s_limits.TryGetValue(accelerator, out int limit))
            {
                Check(Driver.DeviceGetAttribute(out limit, DeviceAttributeMaxSharedMemoryPerBlockOptin, cuda.Device.DeviceId), "cuDeviceGetAttribute");
                s_limits[accelerator] = limit;
            }
            return limit;
        }
    }

    /// <summary>Whether a launch with this much shared memory needs the opt-in at all.</summary>
    public static bool NeedsOptIn(int dynamicBytes, int staticBytes) => (long)dynamicBytes + staticBytes > DefaultLimitBytes;

    /// <summary>
    /// Opts the loaded kernel behind <paramref name="kernelDelegate"/> (from Accelerator.LoadKernel)
    /// into <paramref name="dynamicBytes"/> of dynamic shared memory. No-op off CUDA or within 48 KB.
    /// </summary>
    public static void Allow<TDelegate>(TDelegate kernelDelegate, int dynamicBytes, int staticBytes = 0) where TDelegate : Delegate
    {
        ArgumentNullException.ThrowIfNull(kernelDelegate);
        if (kernelDelegate.GetKernel() is not CudaKernel cuda || !NeedsOptIn(dynamicBytes, staticBytes)) return;
        var accelerator = (CudaAccelerator)cuda.Accelerator;
        Check(Driver.DeviceGetAttribute(out int limit, DeviceAttributeMaxSharedMemoryPerBlockOptin, accelerator.Device.DeviceId), "cuDeviceGetAttribute");
        var (attribute, value) = Arguments(dynamicBytes, staticBytes, limit);
        accelerator.Bind();
        Check(Driver.FuncSetAttribute(cuda.FunctionPtr, attribute, value), "cuFuncSetAttribute");
    }

    /// <summary>
    /// Opts a freshly loaded kernel into <paramref name="sharedElements"/> bf16 elements of dynamic
    /// shared memory, capped at <paramref name="accelerator"/>'s limit: the launchers check their
    /// own sizes against that limit (attention's Fits, the GEMM's stage count), so no launch over
    /// it reaches the kernel.
    /// </summary>
    public static void AllowUpToLimit<TDelegate>(TDelegate kernel, Accelerator accelerator, int sharedElements) where TDelegate : Delegate =>
        Allow(kernel, (int)Math.Min((long)sharedElements * sizeof(ushort), OptInLimitBytes(accelerator)));

    private static void Check(int result, string call)
    {
        if (result != 0) throw new InvalidOperationException($"{call} failed with CUresult {result}.");
    }

    /// <summary>The two driver entry points, resolved from libcuda the way the driver is installed (libcuda.so.1 on Linux).</summary>
    private static unsafe class Driver
    {
        private static readonly nint s_library = Load();
        private static readonly delegate* unmanaged<nint, int, int, int> s_funcSetAttribute =
            (delegate* unmanaged<nint, int, int, int>)NativeLibrary.GetExport(s_library, "cuFuncSetAttribute");
        private static readonly delegate* unmanaged<int*, int, int, int> s_deviceGetAttribute =
            (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(s_library, "cuDeviceGetAttribute");

        public static int FuncSetAttribute(nint function, int attribute, int value) => s_funcSetAttribute(function, attribute, value);

        public static int DeviceGetAttribute(out int value, int attribute, int device)
        {
            int v;
            int result = s_deviceGetAttribute(&v, attribute, device);
            value = v;
            return result;
        }

        private static nint Load()
        {
            foreach (string name in new[] { "libcuda.so.1", "libcuda.so", "nvcuda.dll" })
                if (NativeLibrary.TryLoad(name, out nint handle)) return handle;
            throw new DllNotFoundException("The CUDA driver library (libcuda.so.1 / nvcuda.dll) was not found.");
        }
    }
}
