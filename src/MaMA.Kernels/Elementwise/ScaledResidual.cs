using ILGPU;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// A transformer block's residual update, z = residual + gamma (branch + bias), in one pass: the
/// branch is the bias-free product of the branch's last linear layer (the ViT's proj and fc2 with
/// LayerScale gamma; GPT-2's c_proj with <c>hasGamma</c> 0, no scale), so the bias add, the scale
/// and the residual add, up to three passes over [rows, C] unfused, become one. All views
/// contiguous [rows, C] (count = rows C) or [C]; element i has channel i % c. Computed as
/// (branch + bias) * gamma then + residual, the unfused order; without gamma the view is unread.
/// </summary>
public static partial class ScaledResidual
{
    /// <summary>z = residual + (branch + bias) gamma.</summary>
    [Kernel]
    private static void ForwardKernel(int i, [Extent("count")] ArrayView<float> residual, [Extent("count")] ArrayView<float> branch,
        [Extent("c")] ArrayView<float> bias, [Extent("c")] ArrayView<float> gamma, [Extent("count")] ArrayView<float> z, int c, int hasGamma)
    {
        int j = i % c;
        float pre = branch[i] + bias[j];
        z[i] = residual[i] + (hasGamma != 0 ? pre * gamma[j] : pre);
    }

    /// <summary>The same, also writing bf16(branch + bias) (<paramref name="pre16"/>): what autocast keeps for gamma's gradient.</summary>
    [Kernel]
    private static void ForwardKeepBf16Kernel(int i, [Extent("count")] ArrayView<float> residual, [Extent("count")] ArrayView<float> branch,
        [Extent("c")] ArrayView<float> bias, [Extent("c")] ArrayView<float> gamma, [Extent("count")] ArrayView<float> z,
        [Extent("count")] ArrayView<ushort> pre16, int c)
    {
        int j = i % c;
        float pre = branch[i] + bias[j];
        z[i] = residual[i] + pre * gamma[j];
        pre16[i] = Bf16.FromFloat(pre);
    }

    /// <summary>
    /// The terms of gamma's gradient, product[i] = dz[i] (branch[i] + bias[i % c]), from the saved
    /// fp32 branch (summed over rows by the caller).
    /// </summary>
    [Kernel]
    private static void GammaTermsKernel(int i, [Extent("count")] ArrayView<float> dz, [Extent("count")] ArrayView<float> branch,
        [Extent("c")] ArrayView<float> bias, [Extent("count")] ArrayView<float> product, int c)
    {
        product[i] = dz[i] * (branch[i] + bias[i % c]);
    }

    /// <summary>The same from the bf16 pre-activation autocast kept, widened in the kernel.</summary>
    [Kernel]
    private static void GammaTermsFromBf16Kernel(int i, [Extent("count")] ArrayView<float> dz, [Extent("count")] ArrayView<ushort> pre16,
        [Extent("count")] ArrayView<float> product)
    {
        product[i] = dz[i] * Bf16.ToFloat(pre16[i]);
    }
}
