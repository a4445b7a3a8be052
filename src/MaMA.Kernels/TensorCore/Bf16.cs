using ILGPU;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// bfloat16 as 16-bit patterns (ILGPU has no bf16 type): the top half of an fp32. Rounding is to
/// nearest even, NaN stays NaN; the same rule as Casts.FloatToBFloat16 and torch. Usable in
/// kernels (Interop bit casts) and on the host.
/// </summary>
public static class Bf16
{
    /// <summary>fp32 -> bf16 bits, round to nearest even.</summary>
    public static ushort FromFloat(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((bits >> 16) | 0x40u);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>bf16 bits -> fp32 (exact).</summary>
    public static float ToFloat(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary>Two bf16 in one .b32 register: <paramref name="lo"/> is the lower-numbered element.</summary>
    public static uint Pack(ushort lo, ushort hi) => lo | ((uint)hi << 16);

    /// <summary>The inline PTX of <see cref="PackRoundedPtx"/>: the first source goes to the upper half (sm_80).</summary>
    public const string PackRoundedInstruction = "cvt.rn.bf16x2.f32 %0, %1, %2;";

    /// <summary>Two fp32 rounded to bf16 (nearest even) and packed, <paramref name="lo"/> in the low half.</summary>
    public static uint PackRounded(float lo, float hi) => Pack(FromFloat(lo), FromFloat(hi));

    /// <summary>
    /// <see cref="PackRounded"/> as one instruction (CUDA only: inline PTX), where the portable form
    /// is two rounding sequences with a NaN test each, then a shift and an or. The same values, NaN
    /// apart (canonical here, the payload's top bits there).
    /// </summary>
    public static uint PackRoundedPtx(float lo, float hi)
    {
        Output<uint> d = default;
        Input<float> a = hi, b = lo;
        CudaAsm.EmitRef(PackRoundedInstruction, ref d, ref a, ref b);
        return d.Value;
    }

    /// <summary>The low (lower-numbered) bf16 of a packed pair, as fp32.</summary>
    public static float Low(uint pair) => Interop.IntAsFloat(pair << 16);

    /// <summary>The high bf16 of a packed pair, as fp32.</summary>
    public static float High(uint pair) => Interop.IntAsFloat(pair & 0xFFFF0000u);

    /// <summary>fp32 rounded through bf16 (what a bf16 operand of the tensor core sees).</summary>
    public static float Round(float x) => ToFloat(FromFloat(x));
}
