using ILGPU;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// GELU(y + bias) in one pass: the bias add of the linear layer before the MLP's GELU (ViT fc1,
/// GPT-2 c_fc), fused so that the [rows, C] pre-activation is never written and read back. y is
/// contiguous [rows, C] (count = rows C elements), bias [C]; element i has bias index i % c.
/// <c>tanhForm</c> picks GPT-2's "gelu_new" (nonzero) or the exact erf form (0); uniform per launch.
/// The formulas are those of the unfused kernels (<see cref="Activations"/>), so both paths agree.
/// </summary>
public static partial class Activations
{
    /// <summary>output = GELU(y + bias).</summary>
    [Kernel]
    private static void BiasGeluForwardKernel(int i, [Extent("count")] ArrayView<float> y, [Extent("c")] ArrayView<float> bias,
        [Extent("count")] ArrayView<float> output, int c, int tanhForm)
    {
        float pre = y[i] + bias[i % c];
        output[i] = tanhForm != 0 ? GeluTanh(pre) : GeluErf(pre);
    }

    /// <summary>
    /// The bf16-autocast form: the output rounded to bf16 (the next product would round it anyway),
    /// and with <paramref name="keep"/> nonzero the pre-activation in bf16 too (<paramref name="pre16"/>),
    /// what the backward reads: both written in this pass instead of by casts after it.
    /// </summary>
    [Kernel]
    private static void BiasGeluForwardBf16Kernel(int i, [Extent("count")] ArrayView<float> y, [Extent("c")] ArrayView<float> bias,
        [Extent("count")] ArrayView<ushort> output16, [Extent("count")] ArrayView<ushort> pre16, int c, int tanhForm, int keep)
    {
        float pre = y[i] + bias[i % c];
        output16[i] = Bf16.FromFloat(tanhForm != 0 ? GeluTanh(pre) : GeluErf(pre));
        if (keep != 0) pre16[i] = Bf16.FromFloat(pre);
    }

    /// <summary>dx = dy GELU'(y + bias), from the saved fp32 y (the pre-activation is recomputed, never stored).</summary>
    [Kernel]
    private static void BiasGeluBackwardKernel(int i, [Extent("count")] ArrayView<float> y, [Extent("c")] ArrayView<float> bias,
        [Extent("count")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dx, int c, int tanhForm)
    {
        float pre = y[i] + bias[i % c];
        dx[i] = dy[i] * (tanhForm != 0 ? GeluTanhSlope(pre) : GeluErfSlope(pre));
    }

    /// <summary>dx = dy GELU'(pre), from the bf16 pre-activation autocast kept, widened in the kernel.</summary>
    [Kernel]
    private static void GeluBackwardFromBf16Kernel(int i, [Extent("count")] ArrayView<ushort> pre16, [Extent("count")] ArrayView<float> dy,
        [Extent("count")] ArrayView<float> dx, int tanhForm)
    {
        float pre = Bf16.ToFloat(pre16[i]);
        dx[i] = dy[i] * (tanhForm != 0 ? GeluTanhSlope(pre) : GeluErfSlope(pre));
    }
}
