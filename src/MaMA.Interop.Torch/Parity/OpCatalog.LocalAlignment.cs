using MaMA.Engine;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Symmetric Local Alignment (<see cref="Losses.SymmetricLocalAlignment"/>) and <see cref="Ops.Exp"/>.
/// The SLA cases fix the sentences per report inside the case (S = [1, 3, 2, 4] for N = 4; the
/// offsets tensor is built inside both lambdas, it is not an input) and L2-normalise patches and
/// sentences inside both computations, so the gradients through the normalisation are compared
/// too. The reference builds the full similarity tensor explicitly (every patch of every image
/// against every sentence of every report), then takes max / mean as the definition says. Ties
/// in a max have probability zero with random inputs.
/// </summary>
public static partial class OpCatalog
{
    static partial void AddLocalAlignmentFamily(List<OpCase> cases)
    {
        // Sentences per report of the N = 4 cases and of the two-block case (N = 5). Locals, not
        // static fields: the catalog is built from another partial file's static initializer.
        long[] offsets4 = SlaOffsets([1, 3, 2, 4]);
        long[] offsets5 = SlaOffsets([2, 1, 5, 3, 1]);

        cases.Add(new("exp", [new("x", [7, 33])], x => Ops.Exp(x[0]), x => x[0].exp()));
        cases.Add(new("exp_scalar", [new("x", [])], x => Ops.Exp(x[0]), x => x[0].exp()));

        // N = 4 reports / images, P = 17 patches, E = 24, S = [1, 3, 2, 4]: one output per case.
        OpInput[] inputs4 = [new("patches", [4, 17, 24]), new("sentences", [(int)offsets4[^1], 24]), new("local_scale", [], GradFloor: 1e-2)];
        cases.Add(new("sla_loss_t2i", inputs4, x => SlaEngine(x, offsets4, normalise: true).LossT2I,
            x => SlaTorch(x, offsets4).LossT2I, Tolerance: 1e-4, GradTolerance: 1e-4));
        cases.Add(new("sla_loss_i2t", inputs4, x => SlaEngine(x, offsets4, normalise: true).LossI2T,
            x => SlaTorch(x, offsets4).LossI2T, Tolerance: 1e-4, GradTolerance: 1e-4));
        OpInput[] scoreInputs4 = [new("patches", [4, 17, 24]), new("sentences", [(int)offsets4[^1], 24])];
        cases.Add(new("sla_t2i", scoreInputs4, x => SlaEngineScores(x, offsets4).T2I,
            x => SlaTorchScores(x, offsets4).T2I, Tolerance: 1e-4, GradTolerance: 1e-4));
        cases.Add(new("sla_i2t", scoreInputs4, x => SlaEngineScores(x, offsets4).I2T,
            x => SlaTorchScores(x, offsets4).I2T, Tolerance: 1e-4, GradTolerance: 1e-4));

        // P = 33 spans two patch blocks on every SIMD width (and several work items), R = 12
        // leaves a partial sentence tile, E = 37 an odd column tail in the backward.
        OpInput[] inputs5 = [new("patches", [5, 33, 37]), new("sentences", [(int)offsets5[^1], 37]), new("local_scale", [], GradFloor: 1e-2)];
        cases.Add(new("sla_loss_two_blocks", inputs5,
            x =>
            {
                SymmetricLocalAlignmentResult res = SlaEngine(x, offsets5, normalise: true);
                return Ops.Add(res.LossT2I, res.LossI2T);
            },
            x =>
            {
                var res = SlaTorch(x, offsets5);
                return res.LossT2I + res.LossI2T;
            }, Tolerance: 1e-4, GradTolerance: 1e-4));

        // bf16 inputs on both sides (normalised in fp32, then rounded), fp32 compute.
        cases.Add(new("sla_loss_bf16", inputs4,
            x =>
            {
                EngineTensor patches = Ops.L2Normalize(x[0]).To(DType.BFloat16);
                EngineTensor sentences = Ops.L2Normalize(x[1]).To(DType.BFloat16);
                EngineTensor offsets = EngineTensor.FromArray(offsets4, [offsets4.Length], x[0].Device);
                SymmetricLocalAlignmentResult res = Losses.SymmetricLocalAlignment(patches, sentences, offsets, x[2].To(DType.BFloat16));
                return Ops.Add(res.LossT2I, res.LossI2T);
            },
            x =>
            {
                TorchTensor patches = nn.functional.normalize(x[0], dim: -1).to(ScalarType.BFloat16).to(ScalarType.Float32);
                TorchTensor sentences = nn.functional.normalize(x[1], dim: -1).to(ScalarType.BFloat16).to(ScalarType.Float32);
                var res = SlaReference(patches, sentences, offsets4, x[2].to(ScalarType.BFloat16).to(ScalarType.Float32));
                return res.LossT2I + res.LossI2T;
            }, Tolerance: 2e-2, GradTolerance: 2e-2));
    }

    /// <summary>
    /// Straightforward libtorch SLA: the full similarity of every patch with every sentence row
    /// ([N, P, sum S], i.e. N x N x P x S_m), then per report max over patches / sentences and the
    /// means, and F.cross_entropy both ways. Returns (L_t2i, L_i2t, t2i, i2t); rows are reports.
    /// </summary>
    public static (TorchTensor LossT2I, TorchTensor LossI2T, TorchTensor T2I, TorchTensor I2T) SlaReference(TorchTensor patches, TorchTensor sentences, long[] offsets, TorchTensor localScale)
    {
        (TorchTensor t2i, TorchTensor i2t) = SlaReferenceScores(patches, sentences, offsets);
        int n = offsets.Length - 1;
        TorchTensor scale = localScale.exp();
        // Targets from an array, not arange(n): no implicit TorchSharp Scalar, whose finalizer could
        // free it while libtorch still reads it.
        TorchTensor targets = tensor(Enumerable.Range(0, n).Select(i => (long)i).ToArray());
        TorchTensor Symmetric(TorchTensor scores)
        {
            TorchTensor logits = scale * scores;
            return nn.functional.cross_entropy(logits, targets) + nn.functional.cross_entropy(logits.t(), targets);
        }
        return (Symmetric(t2i), Symmetric(i2t), t2i, i2t);
    }

    /// <summary>t2i and i2t [N, N] (rows reports, columns images) from the full similarity tensor.</summary>
    public static (TorchTensor T2I, TorchTensor I2T) SlaReferenceScores(TorchTensor patches, TorchTensor sentences, long[] offsets)
    {
        int n = offsets.Length - 1;
        TorchTensor sim = matmul(patches, sentences.t()); // [N, P, sum S]
        var t2i = new TorchTensor[n];
        var i2t = new TorchTensor[n];
        for (int m = 0; m < n; m++)
        {
            TorchTensor block = sim.narrow(2, offsets[m], offsets[m + 1] - offsets[m]); // [N, P, S_m]
            t2i[m] = block.max(1).values.mean([-1]);
            i2t[m] = block.max(2).values.mean([-1]);
        }
        return (stack(t2i), stack(i2t));
    }

    /// <summary>Offsets [N + 1] from sentence counts.</summary>
    public static long[] SlaOffsets(IReadOnlyList<int> counts)
    {
        var offsets = new long[counts.Count + 1];
        for (int m = 0; m < counts.Count; m++) offsets[m + 1] = offsets[m] + counts[m];
        return offsets;
    }

    private static SymmetricLocalAlignmentResult SlaEngine(EngineTensor[] x, long[] offsets, bool normalise)
    {
        EngineTensor patches = normalise ? Ops.L2Normalize(x[0]) : x[0];
        EngineTensor sentences = normalise ? Ops.L2Normalize(x[1]) : x[1];
        EngineTensor offsetsTensor = EngineTensor.FromArray(offsets, [offsets.Length], x[0].Device);
        return Losses.SymmetricLocalAlignment(patches, sentences, offsetsTensor, x[2]);
    }

    private static (TorchTensor LossT2I, TorchTensor LossI2T, TorchTensor T2I, TorchTensor I2T) SlaTorch(TorchTensor[] x, long[] offsets) =>
        SlaReference(nn.functional.normalize(x[0], dim: -1), nn.functional.normalize(x[1], dim: -1), offsets, x[2]);

    private static (EngineTensor T2I, EngineTensor I2T) SlaEngineScores(EngineTensor[] x, long[] offsets) =>
        Losses.LocalAlignmentScores(Ops.L2Normalize(x[0]), Ops.L2Normalize(x[1]), EngineTensor.FromArray(offsets, [offsets.Length], x[0].Device));

    private static (TorchTensor T2I, TorchTensor I2T) SlaTorchScores(TorchTensor[] x, long[] offsets) =>
        SlaReferenceScores(nn.functional.normalize(x[0], dim: -1), nn.functional.normalize(x[1], dim: -1), offsets);
}
