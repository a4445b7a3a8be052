using MaMA.Engine;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Attention at MaMA's real shapes: the ViT-B/14 layer at 518 px (B=2, H=12, T=1374, D=64,
/// bidirectional, scale 1/8) and the BioMedLM layer (B=4, H=20, T=144, D=128, causal), once
/// causal only (scale 1/sqrt(128), libtorch's default, so torch runs SDPA as is) and once with the
/// caption padding mask and the 1/(layer + 1) score scale of layer 11. libtorch side:
/// torch.nn.functional.scaled_dot_product_attention (see <see cref="OpCatalog.TorchAttention"/>).
/// </summary>
public static partial class FamilyBench
{
    static partial void AddAttention(List<OpCase> cases)
    {
        Add(cases, "attention vit B2 H12 T1374 D64", [2, 12, 1374, 64], causal: false, keptKeys: null, layer: 0);
        Add(cases, "attention gpt2 B4 H20 T144 D128 causal", [4, 20, 144, 128], causal: true, keptKeys: null, layer: 0);
        Add(cases, "attention gpt2 B4 H20 T144 D128 causal+pad layer11", [4, 20, 144, 128], causal: true, keptKeys: [144, 97, 61, 30], layer: 11);
    }

    private static void Add(List<OpCase> cases, string name, int[] shape, bool causal, int[]? keptKeys, int layer)
    {
        int batch = shape[0], t = shape[2], d = shape[3];
        float scale = (float)(1.0 / Math.Sqrt(d) / (layer + 1));
        float[]? keep = keptKeys is null ? null : OpCatalog.KeepMask(batch, t, keptKeys);
        cases.Add(new(name, [new("q", shape), new("k", shape), new("v", shape)],
            x => Ops.Attention(x[0], x[1], x[2], keep is null ? null : Engine.Tensors.Tensor.FromArray(keep, [batch, t], x[0].Device), causal, scale),
            x => OpCatalog.TorchAttention(x[0], x[1], x[2], keptKeys, causal, scale)));
    }
}
