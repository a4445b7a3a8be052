using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.MpiCheck;

/// <summary>
/// Per-rank negatives (the published DDP objective) at a late step, every term on: each rank forwards
/// its 3 pairs of MaMAConfig.Tiny (LoRA dropout off) through <see cref="DistributedMaMAForward"/> with
/// <see cref="Negatives.PerRank"/>, backpropagates its total loss, and the gradients are averaged.
/// Rank 0 rebuilds the same objective in one process: for each rank's rows a plain forward gives
/// CLIP(v1, t), CLIP(v2, t) and both SLA terms over those rows (and the SimCLR and local heads'
/// BatchNorm sees exactly those rows, as on the rank); z0 and z1 of every rank's rows, concatenated in
/// rank order, give NT-Xent over the global batch. The reference loss is
/// mean_r [CLIP_r(v1) + CLIP_r(v2) + SLA_r] + NT-Xent(global), and its gradient must be the averaged one.
/// Reported: each rank's terms next to the reference's, and the parameter gradients' relative errors.
/// </summary>
internal static class CheckNegatives
{
    private const int PerRank = 3, Seed = 100;

    private static readonly string[] Terms = ["clip_v1", "clip_v2", "ntxent", "sla_t2i", "sla_i2t"];

    public static Dictionary<string, object?> Run(ICommunicator comm)
    {
        MaMAConfig config = MaMAConfig.Tiny with { Text = Gpt2Config.Tiny.WithoutDropout(), LateLossStep = 0 };
        int n = PerRank * comm.Size;
        GlobalBatch data = GlobalBatch.Make(config, n, 1);
        var shard = new DataShard(comm.Rank, comm.Size, n);

        var model = new MaMAModel(config, new Random(Seed + comm.Rank));
        model.Train();
        ParameterSync.BroadcastFromRoot(comm, model);
        var forward = new DistributedMaMAForward(comm, model, Negatives.PerRank);
        MaMAOutput output = forward.Forward(data.Slice(0, shard.Start, shard.Count), 0);
        output.Loss.Backward();
        var bucketer = new GradientBucketer(comm, model.Parameters());
        bucketer.AllReduceMean();

        // Every rank's five terms, to rank 0 in rank order.
        double[] mine = TermsOf(output);
        var all = new double[Terms.Length * comm.Size];
        comm.AllGather<double>(mine, all);
        var report = new Dictionary<string, object?> { ["global_batch"] = n, ["per_rank"] = PerRank };
        if (comm.Rank != 0) return report;

        var reference = new MaMAModel(config, new Random(Seed));
        reference.Train();
        var z0 = new List<Tensor>();
        var z1 = new List<Tensor>();
        Tensor? localMean = null;
        var expected = new double[Terms.Length * comm.Size];
        for (int r = 0; r < comm.Size; r++)
        {
            MaMAOutput o = reference.Forward(data.Slice(0, r * PerRank, PerRank), 0);
            // The SimCLR head again on the same rows: BatchNorm in training mode normalises with
            // these rows' statistics, so z0 and z1 are the ones the rank computed.
            z0.Add(reference.SimClrProj.Forward(o.Image2!.Pooled));
            z1.Add(reference.SimClrProj.Forward(o.Image.Pooled));
            Tensor local = Ops.Add(Ops.Add(Ops.Add(o.LossClipV1, o.LossClipV2!), o.LossSlaT2I!), o.LossSlaI2T!);
            Tensor share = Ops.Scale(local, 1f / comm.Size);
            localMean = localMean is null ? share : Ops.Add(localMean, share);
            double[] terms = TermsOf(o);
            Array.Copy(terms, 0, expected, r * Terms.Length, Terms.Length);
        }
        Tensor ntXent = Losses.InterViewContrast(Ops.Concat(z0, 0), Ops.Concat(z1, 0), config.NtXentTemperature);
        for (int r = 0; r < comm.Size; r++) expected[r * Terms.Length + 2] = ntXent.Item();   // every rank: the global NT-Xent
        Ops.Add(localMean!, Ops.Scale(ntXent, config.InterViewWeight)).Backward();

        var terms0 = new Dictionary<string, double[]>();
        for (int r = 0; r < comm.Size; r++)
            for (int k = 0; k < Terms.Length; k++)
                terms0[$"rank{r}_{Terms[k]}"] = [all[r * Terms.Length + k], expected[r * Terms.Length + k]];
        var gradients = new Dictionary<string, double>();
        var refParameters = reference.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter, StringComparer.Ordinal);
        int withGradient = 0;
        foreach ((string name, var p) in model.NamedParameters())
        {
            var q = refParameters[name];
            if (p.Grad is null && q.Grad is null) continue;
            withGradient++;
            gradients[name] = p.Grad is null || q.Grad is null ? double.PositiveInfinity
                : Compare.RelativeError(p.Grad.ToFloatArray(), q.Grad.ToFloatArray());
        }
        // The local-only alternative, to show the check can tell them apart: NT-Xent within rank 0's rows.
        report["ntxent_rank0_rows_only"] = reference.Forward(data.Slice(0, 0, PerRank), 0).LossNtXent!.Item();
        report["terms"] = terms0;
        report["parameters_with_gradient"] = withGradient;
        report["gradient_relative_error"] = gradients.OrderByDescending(kv => kv.Value).Take(8).ToDictionary(kv => kv.Key, kv => kv.Value);
        report["max_gradient_relative_error"] = gradients.Values.DefaultIfEmpty(double.NaN).Max();
        return report;
    }

    private static double[] TermsOf(MaMAOutput o) =>
        [o.LossClipV1.Item(), o.LossClipV2!.Item(), o.LossNtXent!.Item(), o.LossSlaT2I!.Item(), o.LossSlaI2T!.Item()];
}
