using MaMA.Engine;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// LoRA linear at BioMedLM's c_attn: M = 576 tokens (4 captions of 144), in 2560, out 7680, r 8,
/// scaling 4, Conv1D weight [in, out] (frozen, not differentiable), frozen bias; gradients to x, A
/// and B. libtorch computes x @ W + b + 4 * (x @ A^T) @ B^T (its CPU matmuls).
/// </summary>
public static partial class FamilyBench
{
    static partial void AddLora(List<OpCase> cases)
    {
        OpCase c = OpCatalog.LoraCase("lora_linear c_attn M=576 in=2560 out=7680 r=8", [576, 2560], 7680, 8, WeightLayout.Conv1D, bias: true, scaling: 4f);
        cases.Add(c with { Inputs = c.Inputs.Select(i => i.Name == "bias" ? i with { Differentiable = false } : i).ToArray() });
    }
}
