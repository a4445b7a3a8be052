using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.Linear;

/// <summary>
/// Plain GEMMs on CUDA through NVIDIA's cuBLAS (P/Invoke), for the products that nothing is fused
/// into. On an H200 cuBLAS ran the paper's bf16 GEMMs 7-12x faster than the generated tensor-core
/// kernel, and LoRA's fp32 forward went from 12.5 to 1.15 ms with it (docs/benchmarks.md), so
/// issue 8's rule applies: use the library where it is faster and say so. Fused kernels (flash attention, the LoRA epilogue, the losses) stay generated.
///
/// Loading: <c>MAMA_CUBLAS</c> (a path, or <c>off</c> to use the generated kernels), else the
/// sonames of CUDA 13, 12 and 11. Without it every caller falls back to its ILGPU kernel;
/// <see cref="Status"/> says which library was found or why none was (<c>mama devices</c> prints it).
/// fp32 products use cuBLAS's default math (no TF32, like PyTorch's default); bf16 products take
/// bf16 operands and write fp32 with fp32 accumulation (cublasGemmStridedBatchedEx, compute 32F).
/// Calls are queued on the ILGPU stream, so ordering with the engine's kernels is kept.
/// </summary>
public static unsafe class CuBlas
{
    private const int OpN = 0, OpT = 1;
    private const int CudaR32F = 0, CudaR16BF = 14;
    private const int ComputeType32F = 68;
    private const int GemmDefault = -1;

    private static readonly Lazy<Library?> s_library = new(Library.Load);
    private static readonly Dictionary<Accelerator, nint> s_handles = new();

    /// <summary>Whether cuBLAS is loaded and not switched off.</summary>
    public static bool IsAvailable => s_library.Value is not null;

    /// <summary>The loaded library's path, or why none is used.</summary>
    public static string Status => s_library.Value?.Path ?? Library.Reason;

    /// <summary>
    /// Whether <see cref="TrySgemm"/> / <see cref="TryBf16Gemm"/> would run this product on
    /// <paramref name="stream"/>: a CUDA stream, cuBLAS loaded, k &gt; 0 and a cuBLAS layout for the strides.
    /// Callers that must split work between a kernel and cuBLAS decide with it before launching either.
    /// </summary>
    public static bool Supports(AcceleratorStream stream, int m, int n, int k, long aRow, long aCol, long bRow, long bCol, long ldc) =>
        stream is CudaStream && k > 0 && IsAvailable && CuBlasLayout.TryMap(m, n, k, aRow, aCol, bRow, bCol, ldc) is not null;

    /// <summary>
    /// Row-major c [batch][m, n] (ldc, batch stride cBatch) = alpha a b + beta c for fp32 operands with
    /// element strides, on <paramref name="stream"/> (a CUDA stream). False, with nothing queued, when
    /// cuBLAS is not loaded or the strides have no cuBLAS layout (<see cref="CuBlasLayout"/>).
    /// </summary>
    public static bool TrySgemm(AcceleratorStream stream, int batch, int m, int n, int k,
        ArrayView<float> a, long aBatch, long aRow, long aCol, ArrayView<float> b, long bBatch, long bRow, long bCol,
        ArrayView<float> c, long cBatch, long ldc, float alpha, float beta) =>
        TryGemm(stream, batch, m, n, k, a.IsValid ? a.LoadEffectiveAddressAsPtr() : 0, aBatch, aRow, aCol,
            b.IsValid ? b.LoadEffectiveAddressAsPtr() : 0, bBatch, bRow, bCol, c.LoadEffectiveAddressAsPtr(), cBatch, ldc, alpha, beta, CudaR32F);

    /// <summary>As <see cref="TrySgemm"/> for bf16 operands (ushort bits) and an fp32 c.</summary>
    public static bool TryBf16Gemm(AcceleratorStream stream, int batch, int m, int n, int k,
        ArrayView<ushort> a, long aBatch, long aRow, long aCol, ArrayView<ushort> b, long bBatch, long bRow, long bCol,
        ArrayView<float> c, long cBatch, long ldc, float alpha, float beta) =>
        TryGemm(stream, batch, m, n, k, a.LoadEffectiveAddressAsPtr(), aBatch, aRow, aCol,
            b.LoadEffectiveAddressAsPtr(), bBatch, bRow, bCol, c.LoadEffectiveAddressAsPtr(), cBatch, ldc, alpha, beta, CudaR16BF);

    private static bool TryGemm(AcceleratorStream stream, int batch, int m, int n, int k,
        nint a, long aBatch, long aRow, long aCol, nint b, long bBatch, long bRow, long bCol,
        nint c, long cBatch, long ldc, float alpha, float beta, int operandType)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream is not CudaStream cudaStream || s_library.Value is not { } lib) return false;
        if (batch <= 0 || m <= 0 || n <= 0) return true;  // nothing to write
        if (k == 0) return false;                        // c = beta c: the caller's kernel does it
        if (CuBlasLayout.TryMap(m, n, k, aRow, aCol, bRow, bCol, ldc) is not { } layout) return false;
        var accelerator = (CudaAccelerator)stream.Accelerator;
        accelerator.Bind();
        nint handle = Handle(lib, accelerator);
        Check(lib.SetStream(handle, cudaStream.StreamPtr), "cublasSetStream");
        // cuBLAS's first operand is B^T, its second A^T (CuBlasLayout).
        int status = lib.GemmStridedBatchedEx(handle, layout.TransposeFirst ? OpT : OpN, layout.TransposeSecond ? OpT : OpN,
            layout.Rows, layout.Cols, layout.Inner, &alpha,
            b, operandType, layout.LdFirst, bBatch,
            a, operandType, layout.LdSecond, aBatch,
            &beta, c, CudaR32F, layout.Ldc, cBatch, batch, ComputeType32F, GemmDefault);
        Check(status, "cublasGemmStridedBatchedEx");
        return true;
    }

    private static nint Handle(Library lib, Accelerator accelerator)
    {
        lock (s_handles)
        {
            if (s_handles.TryGetValue(accelerator, out nint handle)) return handle;
            nint created;
            Check(lib.Create(&created), "cublasCreate");
            s_handles[accelerator] = created;
            return created;
        }
    }

    private static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"{call} failed with cublasStatus_t {status} ({StatusName(status)}).");
    }

    private static string StatusName(int status) => status switch
    {
        1 => "NOT_INITIALIZED", 3 => "ALLOC_FAILED", 7 => "INVALID_VALUE", 8 => "ARCH_MISMATCH", 11 => "MAPPING_ERROR",
        13 => "EXECUTION_FAILED", 14 => "INTERNAL_ERROR", 15 => "NOT_SUPPORTED", 16 => "LICENSE_ERROR", _ => "unknown",
    };

    /// <summary>The three entry points, from the first library that loads.</summary>
    private sealed class Library
    {
        public static string Reason { get; private set; } = "not loaded yet";

        public required string Path { get; init; }
        public required delegate* unmanaged<nint*, int> Create { get; init; }
        public required delegate* unmanaged<nint, nint, int> SetStream { get; init; }
        public required delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, long, nint, int, int, long,
            float*, nint, int, int, long, int, int, int, int> GemmStridedBatchedEx { get; init; }

        public static Library? Load()
        {
            string? setting = Environment.GetEnvironmentVariable("MAMA_CUBLAS");
            if (string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase))
            {
                Reason = "off (MAMA_CUBLAS=off): generated kernels only";
                return null;
            }
            string[] names = string.IsNullOrEmpty(setting)
                ? ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so", "cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
                : [setting];
            foreach (string name in names)
            {
                if (!NativeLibrary.TryLoad(name, out nint handle)) continue;
                if (!NativeLibrary.TryGetExport(handle, "cublasCreate_v2", out nint create)
                    || !NativeLibrary.TryGetExport(handle, "cublasSetStream_v2", out nint setStream)
                    || !NativeLibrary.TryGetExport(handle, "cublasGemmStridedBatchedEx", out nint gemm))
                {
                    Reason = $"{name} lacks cublasCreate_v2 / cublasSetStream_v2 / cublasGemmStridedBatchedEx";
                    continue;
                }
                return new Library
                {
                    Path = name,
                    Create = (delegate* unmanaged<nint*, int>)create,
                    SetStream = (delegate* unmanaged<nint, nint, int>)setStream,
                    GemmStridedBatchedEx = (delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, long, nint, int, int, long,
                        float*, nint, int, int, long, int, int, int, int>)gemm,
                };
            }
            Reason = string.IsNullOrEmpty(setting)
                ? "no libcublas.so.13/12/11 on the library path (set MAMA_CUBLAS to its path): generated kernels only"
                : $"MAMA_CUBLAS={setting} could not be loaded: generated kernels only";
            return null;
        }
    }
}
