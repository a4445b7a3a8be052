using MaMA.Bench.Cases;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Attention: torch.nn.functional.scaled_dot_product_attention with the case's score scale, causal
/// flag and key padding (see <see cref="OpCatalog.TorchAttention"/>); bf16 cases run libtorch on
/// bf16 tensors.
/// </summary>
public static partial class FamilyBench
{
    private static Func<TorchTensor[], TorchTensor> Attention(AttentionCase a) =>
        x => OpCatalog.TorchAttention(x[0], x[1], x[2], a.KeptKeys, a.Causal, a.Scale);
}
