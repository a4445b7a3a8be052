using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Linear;
using MaMA.Kernels.TensorCore;
using LoraKernels = MaMA.Kernels.Lora.Lora;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Whether a matrix product over operands of these dtypes runs on the bf16 tensor-core kernels:
    /// only on CUDA and the ILGPU CPU simulator (which emulates the mma), when both operands are
    /// bf16, or both floating inside <see cref="TensorCoreMath.AllowBf16"/>. A CUDA card older than
    /// sm_80 (<see cref="TensorCoreSupport"/>) keeps the fp32 kernels, its bf16 operands widened.
    /// </summary>
    internal static bool UsesTensorCores(Device device, DType a, DType b)
    {
        if (device is not IlgpuDevice { Kind: DeviceKind.Cuda or DeviceKind.IlgpuCpu } ilgpu || !TensorCoreSupport.Available(ilgpu.Accelerator)) return false;
        if (a == DType.BFloat16 && b == DType.BFloat16) return true;
        return TensorCoreMath.Bf16ForFp32 && a.IsFloating() && b.IsFloating();
    }

    /// <summary>x in bf16 (itself when it already is; a fresh bf16 copy otherwise, owned by the caller).</summary>
    private static Tensor AsBf16(Tensor x) => x.DType == DType.BFloat16 ? x : x.To(DType.BFloat16);

    /// <summary>
    /// c [batch, m, n] (fp32, contiguous) = av [..., m, k] @ bv [..., k, n] on bf16 values
    /// (<see cref="DeviceGemm.RunBf16"/>: cuBLAS's bf16 GEMM, else the tensor-core kernel). Operands
    /// keep their strides (transposes cost nothing).
    /// </summary>
    private static void TensorCoreMatMul(Tensor av, Tensor bv, Tensor c, int[] batch, int batchCount, int m, int n, int k)
    {
        Tensor a16 = AsBf16(av), b16 = AsBf16(bv);
        try
        {
            using Tensor a3 = Batched(a16, batch, m, k), b3 = Batched(b16, batch, k, n);
            Dispatch.Accelerated(c.Device, s =>
                DeviceGemm.RunBf16(s, batchCount, m, n, k, a3.View<ushort>(a3.Extent), a3.Strides[0], a3.Strides[1], a3.Strides[2],
                    b3.View<ushort>(b3.Extent), b3.Strides[0], b3.Strides[1], b3.Strides[2], c.View<float>()));
        }
        finally
        {
            if (!ReferenceEquals(a16, av)) a16.Dispose();
            if (!ReferenceEquals(b16, bv)) b16.Dispose();
        }
    }

    /// <summary>
    /// LoRA linear forward on the tensor cores: u = dropout(x) A^T [m, r] in fp32, then one GEMM
    /// y = x W + bias + s u B^T whose epilogue adds the bias and the rank-r term (r FMAs per output
    /// next to K for the base product): x and W in bf16, B and the bias in fp32.
    /// <para>
    /// u: with bf16 x and A (autocast) in the GEMM form, a bf16 GEMM on x as it lies
    /// (<see cref="LoraProjectBf16"/>); otherwise on fp32 copies, as a GEMM in the GEMM form or the
    /// projection kernel. The same masks and, up to summation order, the same values either way.
    /// </para>
    /// </summary>
    private static void LoraTensorCoreForward(Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scaling, PhiloxDropout mask,
        Tensor u, Tensor y, int m, int inF, int outF, int r, long wRow, long wCol)
    {
        using var scope = new TempScope();
        Tensor bf = scope.F32(loraB);
        Tensor? biasf = bias is null ? null : scope.F32(bias);
        Tensor x16 = Bf16Contiguous(x, scope), w16 = Bf16Contiguous(weight, scope);
        bool gemm = LoraLinearForm.UsesGemm(((IlgpuDevice)x.Device).Stream);
        bool bf16U = gemm && x.DType == DType.BFloat16 && loraA.DType == DType.BFloat16;
        Tensor? a16 = bf16U ? Bf16Contiguous(loraA, scope) : null;
        Tensor? xf = bf16U ? null : scope.F32(x), af = bf16U ? null : scope.F32(loraA);
        Dispatch.Accelerated(x.Device, s =>
        {
            if ((long)m * r > 0)
            {
                if (bf16U)
                {
                    LoraProjectBf16(s, x16, a16!, mask, u, m, inF, r);
                }
                else if (gemm)
                {
                    // u = dropout(x) A^T as a GEMM over the once-masked input (the per-output Project kernel
                    // loops over in serially and draws each mask element r times).
                    using Tensor? xd = LoraMaskedInput(s, xf!, mask, m, inF);
                    DeviceGemm.Run(s, 1, m, r, inF, (xd ?? xf!).View<float>(), 0, inF, 1, af!.View<float>(), 0, 1, inF, u.View<float>());
                }
                else
                {
                    LoraKernels.Project.Launch(s, m * r, xf!.View<float>(), af!.View<float>(), u.View<float>(), inF, r, mask.ForKernels);
                }
            }
            // CUDA with cuBLAS: the LoRA kernel (given inF 0) writes bias + s u B^T in fp32, then cuBLAS's bf16 GEMM adds x W
            // (beta 1). On an H200 cuBLAS ran these GEMMs 7-12x faster than the tensor-core kernel below (docs/benchmarks.md).
            if (CuBlas.Supports(s, m, outF, inF, inF, 1, wRow, wCol, outF))
            {
                // (with inF 0 the kernel reads neither x nor w: B's fp32 copy stands in for both)
                LoraKernels.Forward.Launch(s, checked(m * outF), bf.View<float>(), bf.View<float>(), (biasf ?? bf).View<float>(), u.View<float>(),
                    bf.View<float>(), y.View<float>(), 0, outF, r, wRow, wCol, biasf is null ? 0 : 1, scaling);
                if (!CuBlas.TryBf16Gemm(s, 1, m, outF, inF, x16.View<ushort>(), 0, inF, 1, w16.View<ushort>(), 0, wRow, wCol, y.View<float>(), 0, outF, 1f, 1f))
                    throw new InvalidOperationException("lora_linear: cuBLAS refused a layout it had accepted.");
                return;
            }
            var p = new GemmArgs
            {
                M = m, N = outF, K = inF, Batch = 1,
                ARow = inF, ACol = 1, BRow = wRow, BCol = wCol,
                CBatch = (long)m * outF, Ldc = outF, Alpha = 1f,
                HasBias = biasf is null ? 0 : 1, LoraRank = r, LoraScale = scaling,
                AKFast = 1, BKFast = wRow == 1 ? 1 : 0,
            };
            TensorCoreGemm.Launch(s, x16.View<ushort>(), w16.View<ushort>(), y.View<float>(), p,
                biasf is null ? default : biasf.View<float>(), u.View<float>(), bf.View<float>());
        });
    }

    /// <summary>
    /// u = dropout(x) A^T [m, r] (fp32) from bf16 x [m, in] and A [r, in] by one bf16 GEMM, without
    /// an fp32 copy of x: dropout copies the kept elements (exact, <c>MaskInputBf16</c>) and its scale
    /// 1 / (1 - p) is the GEMM's alpha.
    /// </summary>
    private static void LoraProjectBf16(AcceleratorStream s, Tensor x16, Tensor a16, PhiloxDropout mask, Tensor u, int m, int inF, int r)
    {
        bool drop = mask.Active && mask.KeepProb < 1f && (long)m * inF > 0;
        using Tensor? xd = drop ? Tensor.Empty([m, inF], DType.BFloat16, x16.Device) : null;
        if (xd is not null)
            LoraKernels.MaskInputBf16.Launch(s, checked(m * inF), x16.View<ushort>(), xd.View<ushort>(), mask.ForKernels);
        DeviceGemm.RunBf16(s, 1, m, r, inF, (xd ?? x16).View<ushort>(), 0, inF, 1, a16.View<ushort>(), 0, 1, inF, u.View<float>(),
            alpha: drop ? mask.Scale : 1f);
    }

    /// <summary>t as contiguous bf16; copies made on the way belong to <paramref name="scope"/>.</summary>
    private static Tensor Bf16Contiguous(Tensor t, TempScope scope)
    {
        Tensor h = AsBf16(t);
        if (!ReferenceEquals(h, t)) scope.Own(h);
        Tensor c = h.Contiguous();
        if (!ReferenceEquals(c, h)) scope.Own(c);
        return c;
    }
}
