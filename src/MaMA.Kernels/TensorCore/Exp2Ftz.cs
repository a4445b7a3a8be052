using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// 2^x for the tensor-core kernels' softmax, with results below the smallest normal float flushed
/// to zero: PTX's <c>ex2.approx.ftz.f32</c>, one <c>MUFU.EX2</c> in SASS. ILGPU's
/// <c>XMath.Exp2</c> emits <c>ex2.approx.f32</c>, which ptxas wraps in a range test and two
/// multiplies to produce subnormal results: three more instructions per probability, about a
/// tenth of the forward's key loop (docs/gpu-kernels.md, "ptxas without a card"). The arguments
/// are shifted logits (at most 0, scaled by log2 e), so the flushed values are below 2^-126 of the
/// row's largest and vanish in its sum anyway, as in FlashAttention's own kernels (fast math).
/// </summary>
public static class Exp2Ftz
{
    /// <summary>The inline PTX of <see cref="Ptx"/>.</summary>
    public const string Instruction = "ex2.approx.ftz.f32 %0, %1;";

    /// <summary>Smallest normal float: <see cref="Portable"/> flushes results below it.</summary>
    private const float MinNormal = 1.17549435e-38f;

    /// <summary>One instruction on CUDA (inline PTX; sm_50 and newer).</summary>
    public static float Ptx(float x)
    {
        Output<float> d = default;
        Input<float> a = x;
        CudaAsm.EmitRef(Instruction, ref d, ref a);
        return d.Value;
    }

    /// <summary>The same values on the simulator: 2^x, zero where it is below the normal floats.</summary>
    public static float Portable(float x)
    {
        float r = XMath.Exp2(x);
        return r < MinNormal ? 0f : r;
    }

    /// <summary>log2(e) in fp32 (0f3FB8AA3B, as ILGPU writes it when it lowers <c>MathF.Exp</c>): exp(x) = exp2(x log2 e).</summary>
    public const float Log2E = 1.44269504f;

    /// <summary>
    /// e^x on CUDA: <c>ex2.approx.ftz.f32(x log2 e)</c>. ILGPU lowers <c>MathF.Exp(x)</c> to the same
    /// product and <c>ex2.approx.f32</c>, which ptxas wraps in a range test and two multiplies for
    /// subnormal results; this is one <c>MUFU.EX2</c>, with the same values above 2^-126.
    /// </summary>
    public static float ExpPtx(float x) => Ptx(x * Log2E);

    /// <summary>
    /// The simulator's e^x: .NET's <c>MathF.Exp</c>, as the kernels used before (what the fp64
    /// references' budgets were set with), with results below the normal floats flushed as on CUDA.
    /// </summary>
    public static float ExpPortable(float x)
    {
        float r = MathF.Exp(x);
        return r < MinNormal ? 0f : r;
    }
}
