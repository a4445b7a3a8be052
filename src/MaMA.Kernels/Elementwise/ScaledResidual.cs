using ILGPU;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// The ViT block's residual update with LayerScale, z = residual + gamma (branch + bias), in one
/// pass: the branch is the bias-free product of the block's last linear layer (attention's proj, the
/// MLP's fc2), so the bias add, the LayerScale multiply and the residual add, three passes over
/// [rows, C] unfused, become one. All views contiguous [rows, C] (count = rows C) or [C]; element i
/// has channel i % c. Computed as (branch + bias) * gamma then + residual, the unfused order.
/// </summary>
public static partial class ScaledResidual
{
    /// <summary>z = residual + (branch + bias) gamma.</summary>
    [Kernel]
    private static void ForwardKernel(int i, [Extent("count")] ArrayView<float> residual, [Extent("count")] ArrayView<float> branch,
        [Extent("c")] ArrayView<float> bias, [Extent("c")] ArrayView<float> gamma, [Extent("count")] ArrayView<float> z, int c)
    {
        int j = i % c;
        z[i] = residual[i] + (branch[i] + bias[j]) * gamma[j];
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
