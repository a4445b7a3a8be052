using MaMA.Distributed.Autograd;
using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Distributed.Losses;
using MaMA.Engine;
using MaMA.Engine.Losses;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.MpiCheck;

/// <summary>
/// CLIP, NT-Xent and SLA with global negatives against the single-process losses over the global
/// batch. The embeddings come from replicated linear maps of seeded inputs (so the gradients reach
/// parameters and go through the gradient buckets): v = norm(xv Wv), t = norm(xt Wt), z0 = xz0 Wz,
/// z1 = xz1 Wz, patches = norm(xp Wp) [N, P, E], sentences = norm(xs Ws) [sum S, E] with 1-3
/// sentences per report. n = 3 pairs per rank, so the global batch is 3 R.
/// </summary>
internal static class CheckLosses
{
    private const int PerRank = 3, D = 6, E = 8, P = 5;

    public static Dictionary<string, object?> Run(ICommunicator comm, string backwardName)
    {
        GatherBackward backward = backwardName switch
        {
            "sum" => GatherBackward.SumOverRanks,
            "replicated" => GatherBackward.Replicated,
            "local" => GatherBackward.LocalOnly,
            _ => throw new ArgumentException($"--backward {backwardName}: sum, replicated or local"),
        };
        int n = PerRank * comm.Size;
        int[] sentencesOf = Enumerable.Range(0, n).Select(m => 1 + m % 3).ToArray();
        int[] offsets = new int[n + 1];
        for (int m = 0; m < n; m++) offsets[m + 1] = offsets[m] + sentencesOf[m];
        var inputs = new Inputs(n, offsets[n]);

        // The rank's share: rows [start, start + PerRank) and their sentences.
        var shard = new DataShard(comm.Rank, comm.Size, n);
        int s0 = offsets[shard.Start], s1 = offsets[shard.Start + shard.Count];
        long[] localOffsets = Enumerable.Range(shard.Start, shard.Count + 1).Select(m => (long)(offsets[m] - s0)).ToArray();
        var mine = new Weights();
        (Tensor v, Tensor t, Tensor z0, Tensor z1, Tensor patches, Tensor sentences) = mine.Embed(inputs, shard.Start, shard.Count, s0, s1 - s0);
        Tensor clip = GlobalLosses.Clip(comm, v, t, mine.LogitScale, backward);
        Tensor ntxent = GlobalLosses.InterView(comm, z0, z1, 0.5f, backward);
        SymmetricLocalAlignmentResult sla = GlobalLosses.LocalAlignment(comm, patches, sentences, Tensor.FromArray(localOffsets, [shard.Count + 1]), mine.LocalScale, backward);
        Ops.Add(Ops.Add(Ops.Add(clip, ntxent), sla.LossT2I), sla.LossI2T).Backward();
        var bucketer = new GradientBucketer(comm, mine.All, bucketBytes: 200);   // small buckets: several in flight
        bucketer.AllReduceMean();

        var report = new Dictionary<string, object?> { ["backward"] = backwardName, ["global_batch"] = n, ["buckets"] = bucketer.LastBucketCount };
        if (comm.Rank != 0) return report;

        // Single process over the global batch, with the engine's losses directly.
        var reference = new Weights();
        (Tensor rv, Tensor rt, Tensor rz0, Tensor rz1, Tensor rp, Tensor rs) = reference.Embed(inputs, 0, n, 0, offsets[n]);
        Tensor rClip = Losses.ClipLoss(rv, rt, reference.LogitScale);
        Tensor rNt = Losses.InterViewContrast(rz0, rz1, 0.5f);
        SymmetricLocalAlignmentResult rSla = Losses.SymmetricLocalAlignment(rp, rs, Tensor.FromArray(offsets.Select(o => (long)o).ToArray(), [n + 1]), reference.LocalScale);
        Ops.Add(Ops.Add(Ops.Add(rClip, rNt), rSla.LossT2I), rSla.LossI2T).Backward();

        var losses = new Dictionary<string, double[]>
        {
            ["clip"] = [clip.Item(), rClip.Item()],
            ["ntxent"] = [ntxent.Item(), rNt.Item()],
            ["sla_t2i"] = [sla.LossT2I.Item(), rSla.LossT2I.Item()],
            ["sla_i2t"] = [sla.LossI2T.Item(), rSla.LossI2T.Item()],
        };
        var gradients = new Dictionary<string, double>();
        var normRatios = new Dictionary<string, double>();
        for (int i = 0; i < mine.All.Length; i++)
        {
            float[] a = mine.All[i].Grad!.ToFloatArray(), b = reference.All[i].Grad!.ToFloatArray();
            gradients[mine.All[i].Name!] = Compare.RelativeError(a, b);
            normRatios[mine.All[i].Name!] = Compare.Norm(a) / Compare.Norm(b);
        }
        report["losses"] = losses;
        report["gradient_relative_error"] = gradients;
        report["gradient_norm_ratio"] = normRatios;
        return report;
    }

    private sealed class Inputs(int n, int sentences)
    {
        public float[] Xv { get; } = Compare.Uniform(n * D, 11);
        public float[] Xt { get; } = Compare.Uniform(n * D, 12);
        public float[] Xz0 { get; } = Compare.Uniform(n * D, 13);
        public float[] Xz1 { get; } = Compare.Uniform(n * D, 14);
        public float[] Xp { get; } = Compare.Uniform(n * P * D, 15);
        public float[] Xs { get; } = Compare.Uniform(sentences * D, 16);
    }

    /// <summary>The replicated parameters, seeded identically on every rank.</summary>
    private sealed class Weights
    {
        public Weights()
        {
            Parameter W(string name, int seed) => new(Tensor.FromArray(Compare.Uniform(D * E, seed, 0.7f), [D, E]), name);
            Wv = W("wv", 1); Wt = W("wt", 2); Wz = W("wz", 3); Wp = W("wp", 4); Ws = W("ws", 5);
            LogitScale = new Parameter(Tensor.Scalar(MathF.Log(1f / 0.07f)), "logit_scale");
            LocalScale = new Parameter(Tensor.Scalar(MathF.Log(1f / 0.1f)), "local_scale");
            All = [Wv, Wt, Wz, Wp, Ws, LogitScale, LocalScale];
        }

        public Parameter Wv { get; }
        public Parameter Wt { get; }
        public Parameter Wz { get; }
        public Parameter Wp { get; }
        public Parameter Ws { get; }
        public Parameter LogitScale { get; }
        public Parameter LocalScale { get; }
        public Parameter[] All { get; }

        /// <summary>Embeddings of rows [start, start + count) and sentence rows [sStart, sStart + sCount).</summary>
        public (Tensor V, Tensor T, Tensor Z0, Tensor Z1, Tensor Patches, Tensor Sentences) Embed(Inputs x, int start, int count, int sStart, int sCount)
        {
            Tensor Rows(float[] all, int width, int first, int rows) => Tensor.FromArray(all.AsSpan(first * width, rows * width).ToArray(), [rows, width]);
            Tensor v = Ops.L2Normalize(Ops.MatMul(Rows(x.Xv, D, start, count), Wv));
            Tensor t = Ops.L2Normalize(Ops.MatMul(Rows(x.Xt, D, start, count), Wt));
            Tensor z0 = Ops.MatMul(Rows(x.Xz0, D, start, count), Wz);
            Tensor z1 = Ops.MatMul(Rows(x.Xz1, D, start, count), Wz);
            Tensor p = Ops.Reshape(Ops.L2Normalize(Ops.MatMul(Rows(x.Xp, D, start * P, count * P), Wp)), count, P, E);
            Tensor s = Ops.L2Normalize(Ops.MatMul(Rows(x.Xs, D, sStart, sCount), Ws));
            return (v, t, z0, z1, p, s);
        }
    }
}
