using MaMA.Engine;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace MaMA.Bench;

/// <summary>
/// Base-op benchmark shapes taken from MaMA's encoders: ViT-B/14 at 518 (T = 1374 tokens, C = 768,
/// MLP 3072) and BioMedLM (144 tokens, C = 2560, MLP 10240), with the batch cut so one CPU run stays
/// in seconds. Cases reuse <see cref="OpCase"/>: the same engine and libtorch computations the
/// parity tests check, at bigger shapes. Cases whose op is missing from the catalog are skipped.
/// </summary>
internal static class BenchCases
{
    public static IEnumerable<OpCase> All()
    {
        yield return new("matmul vit qkv [1374x768]@[768x2304]", [new("a", [1374, 768]), new("b", [768, 2304])],
            x => Ops.MatMul(x[0], x[1]), x => torch.matmul(x[0], x[1]));
        yield return new("matmul vit fc1^T [1374x768]@[3072x768]^T", [new("a", [1374, 768]), new("b", [3072, 768])],
            x => Ops.MatMul(x[0], x[1], transposeB: true), x => torch.matmul(x[0], x[1].t()));
        yield return new("matmul gpt2 c_attn [576x2560]@[2560x7680]", [new("a", [576, 2560]), new("b", [2560, 7680])],
            x => Ops.MatMul(x[0], x[1]), x => torch.matmul(x[0], x[1]));
        yield return new("add bias [1374x3072]+[3072]", [new("a", [1374, 3072]), new("b", [3072])],
            x => Ops.Add(x[0], x[1]), x => x[0] + x[1]);
        yield return new("mul same shape [1374x3072]", [new("a", [1374, 3072]), new("b", [1374, 3072])],
            x => Ops.Mul(x[0], x[1]), x => x[0] * x[1]);
        yield return new("gelu erf [1374x3072]", [new("x", [1374, 3072])],
            x => Ops.Gelu(x[0], GeluForm.Erf), x => nn.functional.gelu(x[0]));
        yield return new("gelu tanh [576x10240]", [new("x", [576, 10240])],
            x => Ops.Gelu(x[0], GeluForm.Tanh), x => nn.functional.gelu(x[0], approximate: TorchSharp.Modules.GELU.Approximate.tanh));
        yield return new("relu [36x1369x512]", [new("x", [36 * 1369, 512])],
            x => Ops.Relu(x[0]), x => nn.functional.relu(x[0]));
        yield return new("mean tokens [8x1374x768] axis 1", [new("x", [8, 1374, 768])],
            x => Ops.Mean(x[0], [1]), x => x[0].mean([1L]));
        yield return new("sum last [1374x3072]", [new("x", [1374, 3072])],
            x => Ops.Sum(x[0], [-1]), x => x[0].sum(-1));
        yield return new("max last [288x1369x12]", [new("x", [288, 1369, 12])],
            x => Ops.Max(x[0], -1).Values, x => x[0].max(-1).values);
        yield return new("layer norm [1374x768]", [new("x", [1374, 768]), new("weight", [768]), new("bias", [768])],
            x => Ops.LayerNorm(x[0], x[1], x[2], 1e-6f), x => nn.functional.layer_norm(x[0], [768], x[1], x[2], 1e-6));
        yield return new("transpose+contiguous [12x1374x64]", [new("x", [12, 1374, 64])],
            x => Ops.Transpose(x[0], 0, 1).Contiguous(), x => x[0].transpose(0, 1).contiguous());

        foreach (OpCase c in Extra()) yield return c;
    }

    /// <summary>Benchmarks of ops from other families, taken from the parity catalog's names when present.</summary>
    private static IEnumerable<OpCase> Extra()
    {
        var byName = OpCatalog.All.ToDictionary(c => c.Name);
        (string Case, string Label, int[][] Shapes)[] wanted =
        [
            ("softmax_last", "softmax [12x144 rows x 1374]", [[12 * 144, 1374]]),
            ("log_softmax_last", "log softmax [288x288]", [[288, 288]]),
            ("l2_normalize_last", "l2 normalize [36x1369 x 512]", [[36 * 1369, 512]]),
            ("cross_entropy", "cross entropy [288x288]", [[288, 288], [288]]),
            ("embedding_2d_ids", "embedding [2000x2560] ids [4x144]", [[2000, 2560], [4, 144]]),
        ];
        foreach ((string name, string label, int[][] shapes) in wanted)
        {
            if (!byName.TryGetValue(name, out OpCase? c) || c.Inputs.Length != shapes.Length) continue;
            OpInput[] inputs = c.Inputs.Select((input, i) => input with { Shape = shapes[i] }).ToArray();
            yield return c with { Name = label, Inputs = inputs };
        }
    }
}
