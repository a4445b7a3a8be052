using System.Text.Json.Nodes;

namespace MaMA.Bench.Cases;

/// <summary>
/// The four MaMA kernel families as benchmark cases. Paper shapes: attention in the ViT-B/14 layer
/// at 518 px (B=2, H=12, T=1374, D=64, bidirectional) and the BioMedLM layer (B=4, H=20, T=144,
/// D=128, causal; once with the caption padding and layer 11's 1/(layer + 1) score scale), fp32
/// and bf16 storage; LoRA at BioMedLM's c_attn (M=576 tokens, in 2560, out 7680, r 8, scaling 4);
/// SLA at N=36 pairs, P=1369 patches (37 x 37), E=512, S_m from 4 to 12 sentences (288 rows);
/// CLIP and NT-Xent at N=288, E=512; then plain GEMMs at two projection shapes (bf16, then fp32), and three
/// memory-bound ops of the ViT over a training batch (36 x 1374 tokens of 768): layer norm,
/// LayerScale's broadcast multiply and the attention's head split (a permuted copy), the three fused
/// epilogues: qkv's bias + head split, the MLP's fc1 bias + GELU (3072 wide) and a branch's bias +
/// LayerScale + residual add; and GPT-2's attention-probability dropout in training.
/// Quick shapes keep every case and option with tiny sizes.
/// tools/device_bench.py lists the same cases (a test compares <see cref="Describe"/> with it).
/// </summary>
public static class FamilyCases
{
    public static IReadOnlyList<BenchCase> Get(BenchShapes shapes) => shapes == BenchShapes.Quick ? Quick : Paper;

    private static readonly IReadOnlyList<BenchCase> Paper = Build(
        vit: (2, 12, 1374, 64), gpt2: (4, 20, 144, 128), keptKeys: [144, 97, 61, 30],
        lora: new LoraCase(576, 2560, 7680, 8, 4f),
        sla: new LocalAlignmentCase(36, 1369, 512, SentenceCounts(36)),
        contrastive: (288, 512),
        matmuls: [new MatMulCase("vit qkv", 2 * 1374, 768, 2304), new MatMulCase("gpt2 c_attn", 576, 2560, 7680)],
        layerNorm: new LayerNormCase("vit b36", 36 * 1374, 768, 1e-6),
        layerScale: new LayerScaleCase("vit b36", 36 * 1374, 768),
        qkvSplit: new QkvSplitCase("vit b36", 36, 1374, 12, 64),
        biasGelu: new BiasGeluCase("vit fc1 b36", 36 * 1374, 3072),
        scaledResidual: new ScaledResidualCase("vit b36", 36 * 1374, 768),
        biasSplitHeads: new BiasSplitHeadsCase("vit b36", 36, 1374, 12, 64),
        dropout: new DropoutCase("gpt2 attn probs", 4, 20, 144, 0.1f));

    private static readonly IReadOnlyList<BenchCase> Quick = Build(
        vit: (1, 2, 33, 16), gpt2: (2, 2, 17, 32), keptKeys: [17, 9],
        lora: new LoraCase(17, 64, 96, 4, 4f),
        sla: new LocalAlignmentCase(4, 25, 32, SentenceCounts(4)),
        contrastive: (16, 32),
        matmuls: [new MatMulCase("vit qkv", 33, 16, 48), new MatMulCase("gpt2 c_attn", 17, 64, 96)],
        layerNorm: new LayerNormCase("vit b36", 33, 16, 1e-6),
        layerScale: new LayerScaleCase("vit b36", 33, 16),
        qkvSplit: new QkvSplitCase("vit b36", 2, 33, 2, 8),
        biasGelu: new BiasGeluCase("vit fc1 b36", 33, 64),
        scaledResidual: new ScaledResidualCase("vit b36", 33, 16),
        biasSplitHeads: new BiasSplitHeadsCase("vit b36", 2, 33, 2, 8),
        dropout: new DropoutCase("gpt2 attn probs", 2, 2, 17, 0.1f));

    /// <summary>The cases as JSON, in order (compared with <c>tools/device_bench.py list</c>).</summary>
    public static JsonArray Describe(BenchShapes shapes) => new(Get(shapes).Select(c => (JsonNode)c.Describe()).ToArray());

    /// <summary>S_m = 4 + (5 m mod 9): a fixed spread of 4 to 12 sentences per report.</summary>
    private static int[] SentenceCounts(int pairs) => Enumerable.Range(0, pairs).Select(m => 4 + m * 5 % 9).ToArray();

    private static List<BenchCase> Build((int B, int H, int T, int D) vit, (int B, int H, int T, int D) gpt2, int[] keptKeys,
        LoraCase lora, LocalAlignmentCase sla, (int N, int E) contrastive, MatMulCase[] matmuls, LayerNormCase layerNorm,
        LayerScaleCase layerScale, QkvSplitCase qkvSplit, BiasGeluCase biasGelu,
        ScaledResidualCase scaledResidual, BiasSplitHeadsCase biasSplitHeads, DropoutCase dropout)
    {
        var cases = new List<BenchCase>();
        foreach (bool bf16 in new[] { false, true })
            cases.Add(new AttentionCase("vit", vit.B, vit.H, vit.T, vit.D, Causal: false, KeptKeys: null, Layer: 0, bf16));
        // The ViT's attention as the block calls it: heads joined, bf16 out (autocast).
        cases.Add(new AttentionCase("vit", vit.B, vit.H, vit.T, vit.D, Causal: false, KeptKeys: null, Layer: 0, Bf16: true, JoinHeads: true));
        foreach (bool bf16 in new[] { false, true })
            cases.Add(new AttentionCase("gpt2", gpt2.B, gpt2.H, gpt2.T, gpt2.D, Causal: true, KeptKeys: null, Layer: 0, bf16));
        foreach (bool bf16 in new[] { false, true })
            cases.Add(new AttentionCase("gpt2", gpt2.B, gpt2.H, gpt2.T, gpt2.D, Causal: true, keptKeys, Layer: 11, bf16));
        // BioMedLM's training attention as its block calls it: bf16, heads joined, attn_dropout 0.1 inside.
        cases.Add(new AttentionCase("gpt2", gpt2.B, gpt2.H, gpt2.T, gpt2.D, Causal: true, keptKeys, Layer: 11, Bf16: true, JoinHeads: true, DropoutP: 0.1f));
        cases.Add(lora);
        cases.Add(sla);
        cases.Add(new ClipCase(contrastive.N, contrastive.E));
        cases.Add(new NtXentCase(contrastive.N, contrastive.E, 0.5f));
        cases.AddRange(matmuls);
        // The same products in fp32: cuBLAS on CUDA, and the tiled fp32 GEMM with MAMA_CUBLAS=off (what OpenCL GPUs run).
        cases.AddRange(matmuls.Select(m => m with { Bf16 = false }));
        cases.Add(layerNorm);
        cases.Add(layerScale);
        cases.Add(qkvSplit);
        cases.Add(biasGelu);
        cases.Add(scaledResidual);
        cases.Add(biasSplitHeads);
        cases.Add(dropout);
        return cases;
    }
}
