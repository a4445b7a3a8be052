using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>mama op sla_loss</c>: patches [N, P, E] and sentences [sum S, E] (F32, BF16 or F16; already
/// L2-normalised, the op does not normalise), <c>sentence_offsets</c> [N + 1] (I64 or I32; report m
/// owns sentence rows offsets[m]..offsets[m+1], 0 first, sum S last, every report at least one
/// sentence), 0-d <c>local_scale</c> (the log of the scale) -> <c>loss_t2i</c>, <c>loss_i2t</c>
/// (0-d, each the sum of both directions), <c>t2i</c> and <c>i2t</c> [N, N] (rows reports,
/// columns images, before scaling). Differentiable: patches, sentences, local_scale.
/// </summary>
internal sealed class SlaLossOp : IReferenceOp
{
    public string Name => "sla_loss";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["patches", "sentences", "local_scale"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor patches = args.Tensor("patches", rank: 3), sentences = args.Tensor("sentences", rank: 2);
        args.SameSize("sentences", 1, "patches", 2);
        if (patches.Size(0) == 0 || patches.Size(1) == 0 || patches.Size(2) == 0)
            throw new UsageException($"sla_loss: 'patches' {Shape.Format(patches.Shape)} is empty (N, P and E must be at least 1).");
        Tensor offsets = args.Integers("sentence_offsets", rank: 1);
        CheckOffsets(offsets, patches.Size(0), sentences.Size(0));
        Tensor localScale = args.Tensor("local_scale");
        if (localScale.Numel != 1)
            throw new UsageException($"sla_loss: 'local_scale' must be a 0-d tensor (the log of the scale), got shape {Shape.Format(localScale.Shape)}.");
        SymmetricLocalAlignmentResult result = Losses.SymmetricLocalAlignment(patches, sentences, offsets, localScale);
        return new Dictionary<string, Tensor>
        {
            ["loss_t2i"] = result.LossT2I,
            ["loss_i2t"] = result.LossI2T,
            ["t2i"] = result.T2I,
            ["i2t"] = result.I2T,
        };
    }

    /// <summary>[N + 1], starting at 0, ending at the number of sentence rows, strictly increasing.</summary>
    private static void CheckOffsets(Tensor offsets, int n, int rows)
    {
        if (offsets.Size(0) != n + 1)
            throw new UsageException($"sla_loss: 'sentence_offsets' must have N + 1 = {n + 1} entries for {n} images in 'patches', got {offsets.Size(0)}.");
        long[] values = offsets.DType == DType.Int64 ? offsets.ToArray<long>() : Array.ConvertAll(offsets.ToArray<int>(), v => (long)v);
        if (values[0] != 0)
            throw new UsageException($"sla_loss: 'sentence_offsets' must start at 0, got {values[0]}.");
        for (int m = 0; m < n; m++)
            if (values[m + 1] <= values[m])
                throw new UsageException($"sla_loss: 'sentence_offsets' must increase strictly (every report needs at least one sentence); report {m} spans {values[m]}..{values[m + 1]}.");
        if (values[n] != rows)
            throw new UsageException($"sla_loss: 'sentence_offsets' must end at the number of rows of 'sentences' ({rows}), got {values[n]}.");
    }
}
