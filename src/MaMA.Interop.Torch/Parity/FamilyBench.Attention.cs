using MaMA.Bench.Cases;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Attention: torch.nn.functional.scaled_dot_product_attention with the case's score scale, causal
/// flag and key padding (see <see cref="OpCatalog.TorchAttention"/>); bf16 cases run libtorch on
/// bf16 tensors. A joined case adds transpose(1, 2).reshape(B, T, H D), the copy DINOv2 and GPT-2 make.
/// A dropout case passes dropout_p (libtorch's own masks, the same rate).
/// </summary>
public static partial class FamilyBench
{
    private static Func<TorchTensor[], TorchTensor> Attention(AttentionCase a) =>
        x =>
        {
            TorchTensor o = OpCatalog.TorchAttention(x[0], x[1], x[2], a.KeptKeys, a.Causal, a.Scale, a.DropoutP);
            return a.JoinHeads ? o.transpose(1, 2).reshape(a.Batch, a.Tokens, a.Heads * a.HeadDim) : o;
        };
}
