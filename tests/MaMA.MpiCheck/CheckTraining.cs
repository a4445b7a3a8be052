using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.MpiCheck;

/// <summary>
/// K AdamW steps of MaMAConfig.Tiny (LoRA dropout off) on 2 pairs per rank against one process:
/// per-step losses, final parameters and the cross-rank checksum. With --negatives global the
/// reference is one process on the global batch of 2 R pairs; with per_rank it is one process that
/// runs each rank's 2 pairs as its own micro-batch and backpropagates loss / R for each (the mean of
/// the per-rank objectives, whose gradient the all-reduce averages), and the loss is the mean over
/// the ranks. Ranks build their models from different seeds and <see cref="ParameterSync.BroadcastFromRoot"/>
/// makes them rank 0's. Without --late the steps are before the late-loss step (CLIP only, no
/// BatchNorm runs), where equality is exact up to rounding; --late runs every term from step 0, where
/// the SimCLR and local heads' BatchNorm sees per-rank batches (reported, not expected equal; the
/// late terms' per-rank numbers are CheckNegatives').
/// </summary>
internal static class CheckTraining
{
    private const int PerRank = 2, Seed = 100;

    public static Dictionary<string, object?> Run(ICommunicator comm, int steps, bool late, Negatives negatives)
    {
        MaMAConfig config = MaMAConfig.Tiny with
        {
            Text = Gpt2Config.Tiny.WithoutDropout(),
            LateLossStep = late ? 0 : 1000,
        };
        int n = PerRank * comm.Size;
        GlobalBatch data = GlobalBatch.Make(config, n, steps);
        var shard = new DataShard(comm.Rank, comm.Size, n);

        var model = new MaMAModel(config, new Random(Seed + comm.Rank));
        model.Train();
        ParameterSync.BroadcastFromRoot(comm, model);
        var forward = new DistributedMaMAForward(comm, model, negatives);
        AdamW optimizer = MakeOptimizer(model);
        var bucketer = new GradientBucketer(comm, model.Parameters());
        var losses = new List<double>();
        long checksum = 0;
        for (int s = 0; s < steps; s++)
        {
            optimizer.ZeroGrad();
            MaMAOutput output = forward.Forward(data.Slice(s, shard.Start, shard.Count), s);
            output.Loss.Backward();
            bucketer.AllReduceMean();
            optimizer.Step();
            ParameterSync.BroadcastBuffersFromRoot(comm, model);
            double[] loss = [output.Loss.Item()];
            comm.AllReduceSum<double>(loss);
            losses.Add(loss[0] / comm.Size);
            checksum = ParameterSync.Verify(comm, model);
        }

        var report = new Dictionary<string, object?>
        {
            ["late"] = late, ["negatives"] = negatives.ToString(), ["global_batch"] = n, ["steps"] = steps, ["losses"] = losses, ["checksum"] = checksum,
            ["gradient_bytes_per_step"] = bucketer.LastBytes, ["buckets"] = bucketer.LastBucketCount,
        };
        if (comm.Rank != 0) return report;

        var reference = new MaMAModel(config, new Random(Seed));
        reference.Train();
        AdamW refOptimizer = MakeOptimizer(reference);
        var refLosses = new List<double>();
        for (int s = 0; s < steps; s++)
        {
            refOptimizer.ZeroGrad();
            if (negatives == Negatives.Global)
            {
                MaMAOutput output = reference.Forward(data.Slice(s, 0, n), s);
                output.Loss.Backward();
                refLosses.Add(output.Loss.Item());
            }
            else
            {
                double mean = 0;
                for (int r = 0; r < comm.Size; r++)
                {
                    MaMAOutput output = reference.Forward(data.Slice(s, r * PerRank, PerRank), s);
                    Ops.Scale(output.Loss, 1f / comm.Size).Backward();
                    mean += output.Loss.Item() / comm.Size;
                }
                refLosses.Add(mean);
            }
            refOptimizer.Step();
        }
        var mine = model.StateDict();
        var errors = new Dictionary<string, double>();
        double moved = 0;
        var initial = new MaMAModel(config, new Random(Seed)).StateDict();
        foreach ((string name, Tensor t) in reference.StateDict())
        {
            float[] want = t.ToFloatArray();
            errors[name] = Compare.RelativeError(mine[name].ToFloatArray(), want);
            moved = Math.Max(moved, Compare.RelativeError(initial[name].ToFloatArray(), want));
        }
        report["reference_losses"] = refLosses;
        report["parameter_relative_error"] = errors.OrderByDescending(kv => kv.Value).Take(6).ToDictionary(kv => kv.Key, kv => kv.Value);
        report["max_parameter_relative_error"] = errors.Values.Max();
        report["max_parameter_relative_change"] = moved;
        return report;
    }

    private static AdamW MakeOptimizer(MaMAModel model) =>
        new(ParamGroup.DecayAndNoDecay(model.Parameters(), 1e-3, 0.1), 0.9, 0.999, 1e-8);
}
