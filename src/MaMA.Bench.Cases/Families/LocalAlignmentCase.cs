using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// Symmetric Local Alignment, output L_t2i + L_i2t: patches [N, P, E], sentences [R, E] with
/// R = sum S_m (report m owns <see cref="Sentences"/>[m] rows), local_scale 0-d. Inputs are used as
/// drawn (not normalised) so the timing is the op's alone.
/// FLOPs: forward the dense similarity of every patch with every sentence row, 2 N P R E; the
/// backward only scatters through the max winners: t2i 4 E per (image, sentence row), i2t 4 E per
/// (image, patch, report), i.e. 4 N E (R + N P).
/// </summary>
public sealed record LocalAlignmentCase(int Pairs, int Patches, int Embed, int[] Sentences) : BenchCase
{
    public override string Name => $"sla_loss_n{Pairs}_p{Patches}_e{Embed}";

    public override string Family => "sla_loss";

    public int Rows => Sentences.Sum();

    public override BenchInput[] Inputs => [new("patches", [Pairs, Patches, Embed]), new("sentences", [Rows, Embed]), new("local_scale", [])];

    public override long ForwardFlops => 2L * Pairs * Patches * Rows * Embed;

    public override long ForwardBackwardFlops => ForwardFlops + 4L * Pairs * Embed * (Rows + (long)Pairs * Patches);

    /// <summary>Row offsets [N + 1]: report m's sentences are rows offsets[m] .. offsets[m + 1].</summary>
    public long[] Offsets()
    {
        var offsets = new long[Sentences.Length + 1];
        for (int m = 0; m < Sentences.Length; m++) offsets[m + 1] = offsets[m] + Sentences[m];
        return offsets;
    }

    public override Tensor Engine(Tensor[] x)
    {
        long[] offsets = Offsets();
        Tensor offsetsTensor = Tensor.FromArray(offsets, [offsets.Length], x[0].Device);
        SymmetricLocalAlignmentResult res = Losses.SymmetricLocalAlignment(x[0], x[1], offsetsTensor, x[2]);
        return Ops.Add(res.LossT2I, res.LossI2T);
    }

    protected override JsonObject Parameters() => new()
    {
        ["pairs"] = Pairs,
        ["patches"] = Patches,
        ["embed"] = Embed,
        ["sentences"] = new JsonArray(Sentences.Select(s => (JsonNode)s).ToArray()),
    };
}
