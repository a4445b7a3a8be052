using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.MpiCheck;

/// <summary>
/// GradientBucketer with overlap against without: two identical replicas of MaMAConfig.Tiny (LoRA
/// dropout off) run the same K steps of 2 micro-batches on the same per-rank data; replica A wraps
/// the last micro-batch's backward in <see cref="GradientBucketer.Overlap"/>, replica B does not.
/// After every AllReduceMean the averaged gradients must be bit-identical (and present on the same
/// parameters). The late-loss step is 1, so step 1 changes the plan (the SimCLR head gets gradients:
/// the overlapped buckets are discarded) and steps 2.. overlap with the new plan.
/// </summary>
internal static class CheckOverlap
{
    private const int PerRank = 2, T = 20, Seed = 100, Micro = 2;

    public static Dictionary<string, object?> Run(ICommunicator comm, int steps)
    {
        MaMAConfig config = MaMAConfig.Tiny with
        {
            Text = Gpt2Config.Tiny.WithoutDropout(),
            LateLossStep = 1,
        };
        MaMAModel a = Make(comm, config), b = Make(comm, config);
        var forwardA = new DistributedMaMAForward(comm, a, Negatives.Global);
        var forwardB = new DistributedMaMAForward(comm, b, Negatives.Global);
        AdamW optA = Optimizer(a), optB = Optimizer(b);
        const long bucketBytes = 64 * 1024;   // several buckets in flight
        var bucketsA = new GradientBucketer(comm, a.Parameters(), bucketBytes);
        var bucketsB = new GradientBucketer(comm, b.Parameters(), bucketBytes);
        var overlapped = new List<bool>();
        var overlappedBuckets = new List<int>();
        var bucketCounts = new List<int>();
        var differing = new List<int>();
        var compared = new List<int>();
        var losses = new List<double>();
        for (int s = 0; s < steps; s++)
        {
            optA.ZeroGrad();
            optB.ZeroGrad();
            double loss = 0;
            for (int m = 0; m < Micro; m++)
            {
                MaMABatch batch = Batch(config, comm.Rank, s * Micro + m);
                MaMAOutput outB = forwardB.Forward(batch, s);
                outB.Loss.Backward();
                using (m == Micro - 1 ? bucketsA.Overlap() : null)
                {
                    MaMAOutput outA = forwardA.Forward(batch, s);
                    outA.Loss.Backward();
                    loss += outA.Loss.Item();
                }
            }
            bucketsB.AllReduceMean();
            bucketsA.AllReduceMean();
            overlapped.Add(bucketsA.LastOverlapped);
            overlappedBuckets.Add(bucketsA.LastOverlappedBuckets);
            bucketCounts.Add(bucketsA.LastBucketCount);
            int diff = 0, count = 0;
            foreach (((string name, Parameter pa), Parameter pb) in a.NamedParameters().Zip(b.Parameters()))
            {
                if (pa.Grad is null != pb.Grad is null) { diff++; continue; }
                if (pa.Grad is null) continue;
                count++;
                float[] x = pa.Grad.ToFloatArray(), y = pb.Grad!.ToFloatArray();
                for (int i = 0; i < x.Length; i++)
                    if (BitConverter.SingleToInt32Bits(x[i]) != BitConverter.SingleToInt32Bits(y[i])) { diff++; break; }
            }
            differing.Add(diff);
            compared.Add(count);
            losses.Add(loss);
            optA.Step();
            optB.Step();
            ParameterSync.BroadcastBuffersFromRoot(comm, a);
            ParameterSync.BroadcastBuffersFromRoot(comm, b);
        }
        return new Dictionary<string, object?>
        {
            ["steps"] = steps, ["losses"] = losses, ["overlapped"] = overlapped, ["overlapped_buckets"] = overlappedBuckets,
            ["buckets"] = bucketCounts, ["differing_gradients"] = differing, ["compared_gradients"] = compared,
            ["checksum_a"] = ParameterSync.Verify(comm, a), ["checksum_b"] = ParameterSync.Verify(comm, b),
        };
    }

    private static MaMAModel Make(ICommunicator comm, MaMAConfig config)
    {
        var model = new MaMAModel(config, new Random(Seed + comm.Rank));
        model.Train();
        ParameterSync.BroadcastFromRoot(comm, model);
        return model;
    }

    private static AdamW Optimizer(MaMAModel model) =>
        new(ParamGroup.DecayAndNoDecay(model.Parameters(), 1e-3, 0.1), 0.9, 0.999, 1e-8);

    /// <summary>This rank's 2 pairs of micro-batch <paramref name="index"/> (different on every rank), reports with 3-5 SEP tokens.</summary>
    private static MaMABatch Batch(MaMAConfig config, int rank, int index)
    {
        int size = config.Vision.ImageSize, pixels = PerRank * 3 * size * size;
        int seed = 7919 * rank + 31 * index;
        var rng = new Random(seed);
        var ids = new long[PerRank * T];
        var mask = new long[PerRank * T];
        for (int m = 0; m < PerRank; m++)
        {
            int length = T - 2 * ((m + rank) % 4);
            for (int i = 0; i < T; i++)
            {
                bool real = i < length;
                ids[m * T + i] = real ? rng.Next(0, 50000) : config.PadTokenId;
                mask[m * T + i] = real ? 1 : 0;
            }
            int seps = 3 + (m + rank) % 3;
            for (int k = 0; k < seps; k++) ids[m * T + (k + 1) * (length - 1) / seps] = config.SepTokenId;
        }
        return new MaMABatch(
            Tensor.FromArray(Compare.Uniform(pixels, 1000 + seed), [PerRank, 3, size, size]),
            Tensor.FromArray(ids, [PerRank, T]), Tensor.FromArray(mask, [PerRank, T]),
            Tensor.FromArray(Compare.Uniform(pixels, 2000 + seed), [PerRank, 3, size, size]));
    }
}
