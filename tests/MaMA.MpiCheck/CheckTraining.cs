using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.MpiCheck;

/// <summary>
/// K AdamW steps of MaMAConfig.Tiny (LoRA dropout off) on 2 pairs per rank against one process on
/// the global batch of 2 R pairs: per-step losses, final parameters and the cross-rank checksum.
/// Ranks build their models from different seeds and <see cref="ParameterSync.BroadcastFromRoot"/>
/// makes them rank 0's. Without --late the steps are before the late-loss step (CLIP only, no
/// BatchNorm runs), where equality is exact up to rounding; --late runs every term from step 0, where
/// the SimCLR and local heads' BatchNorm sees per-rank batches (reported, not expected equal).
/// </summary>
internal static class CheckTraining
{
    private const int PerRank = 2, T = 20, Seed = 100;

    public static Dictionary<string, object?> Run(ICommunicator comm, int steps, bool late)
    {
        MaMAConfig config = MaMAConfig.Tiny with
        {
            Text = Gpt2Config.Tiny with { Lora = new LoraConfig { Dropout = 0f } },
            LateLossStep = late ? 0 : 1000,
        };
        int n = PerRank * comm.Size;
        GlobalBatch data = GlobalBatch.Make(config, n, steps);
        var shard = new DataShard(comm.Rank, comm.Size, n);

        var model = new MaMAModel(config, new Random(Seed + comm.Rank));
        model.Train();
        ParameterSync.BroadcastFromRoot(comm, model);
        var forward = new DistributedMaMAForward(comm, model);
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
            losses.Add(output.Loss.Item());
            checksum = ParameterSync.Verify(comm, model);
        }

        var report = new Dictionary<string, object?>
        {
            ["late"] = late, ["global_batch"] = n, ["steps"] = steps, ["losses"] = losses, ["checksum"] = checksum,
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
            MaMAOutput output = reference.Forward(data.Slice(s, 0, n), s);
            output.Loss.Backward();
            refOptimizer.Step();
            refLosses.Add(output.Loss.Item());
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

    /// <summary>Seeded pixels (two views) and reports with 3-5 SEP tokens for every step, global rows.</summary>
    private sealed class GlobalBatch(MaMAConfig config, int n, float[][] pixels, float[][] pixels2, long[][] ids, long[][] mask)
    {
        public static GlobalBatch Make(MaMAConfig config, int n, int steps)
        {
            int size = config.Vision.ImageSize, pixelCount = n * 3 * size * size;
            var p1 = new float[steps][];
            var p2 = new float[steps][];
            var ids = new long[steps][];
            var mask = new long[steps][];
            for (int s = 0; s < steps; s++)
            {
                p1[s] = Compare.Uniform(pixelCount, 1000 + s);
                p2[s] = Compare.Uniform(pixelCount, 2000 + s);
                var rng = new Random(3000 + s);
                ids[s] = new long[n * T];
                mask[s] = new long[n * T];
                for (int m = 0; m < n; m++)
                {
                    int length = T - 2 * (m % 4);
                    for (int i = 0; i < T; i++)
                    {
                        bool real = i < length;
                        ids[s][m * T + i] = real ? rng.Next(0, 50000) : config.PadTokenId;
                        mask[s][m * T + i] = real ? 1 : 0;
                    }
                    int seps = 3 + m % 3;
                    for (int k = 0; k < seps; k++) ids[s][m * T + (k + 1) * (length - 1) / seps] = config.SepTokenId;
                }
            }
            return new GlobalBatch(config, n, p1, p2, ids, mask);
        }

        /// <summary>Rows [start, start + count) of step <paramref name="s"/>'s global batch.</summary>
        public MaMABatch Slice(int s, int start, int count)
        {
            int size = config.Vision.ImageSize, image = 3 * size * size;
            Tensor Pixels(float[] all) => Tensor.FromArray(all.AsSpan(start * image, count * image).ToArray(), [count, 3, size, size]);
            Tensor Tokens(long[] all) => Tensor.FromArray(all.AsSpan(start * T, count * T).ToArray(), [count, T]);
            _ = n;
            return new MaMABatch(Pixels(pixels[s]), Tokens(ids[s]), Tokens(mask[s]), Pixels(pixels2[s]));
        }
    }
}
