using MaMA.Distributed.Communication;
using MaMA.Engine;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;

namespace MaMA.Distributed.Tests;

/// <summary>Per-rank LoRA dropout keys and the GPU each local rank sees (no MPI needed).</summary>
public sealed class RankStreamsTests
{
    /// <summary>LoraLinear 16 -> 8 with dropout 0.5, built from the same seed as every rank builds it.</summary>
    private static LoraLinear Layer()
    {
        var layer = new LoraLinear(16, 8, WeightLayout.Conv1D, new Random(3), rank: 4, alpha: 8, dropout: 0.5f);
        // B starts at zero (the adapter then adds nothing): give it values so the mask shows in the output.
        layer.LoraB.CopyFrom(Tensor.FromArray(Enumerable.Range(0, 32).Select(i => 0.1f * (i % 7 - 3)).ToArray(), [8, 4]));
        layer.DropoutSeed = 12345;
        layer.Train();
        return layer;
    }

    private static float[] Run(LoraLinear layer, Tensor x) => layer.Forward(x).ToArray<float>();

    [Test]
    public void Two_ranks_draw_different_dropout_masks_on_their_rows_and_rank_zero_keeps_the_single_process_masks()
    {
        // The same 6 x 16 input on each "rank" (a rank's rows): equal masks would give equal outputs.
        Tensor x = Tensor.FromArray(Enumerable.Range(0, 96).Select(i => MathF.Sin(i)).ToArray(), [6, 16]);
        LoraLinear single = Layer(), rank0 = Layer(), rank1 = Layer();
        RankDropoutStreams.Separate(rank0, 0);
        RankDropoutStreams.Separate(rank1, 1);

        float[] s = Run(single, x), r0 = Run(rank0, x), r1 = Run(rank1, x);
        Assert.That(r0, Is.EqualTo(s), "rank 0 is the one-process run");
        int differing = s.Zip(r1).Count(p => p.First != p.Second);
        // 48 outputs, each the sum over 16 inputs kept with probability 1/2: a shared mask would give 0 differences.
        Assert.That(differing, Is.GreaterThan(40), "rank 1 must not repeat rank 0's mask");
        // The stream positions advance alike (checkpoints save one offset for all ranks).
        Assert.That(rank1.DropoutOffset, Is.EqualTo(single.DropoutOffset).And.EqualTo(1UL));
        // Without dropout (evaluation) the ranks compute the same function.
        rank0.Eval();
        rank1.Eval();
        Assert.That(Run(rank1, x), Is.EqualTo(Run(rank0, x)));
    }

    [Test]
    public void Every_rank_of_a_model_gets_its_own_key_for_every_lora_layer()
    {
        var keys = new HashSet<ulong>();
        int layers = 0;
        for (int rank = 0; rank < 8; rank++)
        {
            var model = new MaMAModel(MaMAConfig.Tiny, new Random(0));
            RankDropoutStreams.Separate(model, rank);
            foreach ((_, Module m) in model.NamedModules())
                if (m is LoraLinear lora)
                {
                    keys.Add(lora.DropoutSeed);
                    if (rank == 0) layers++;
                }
        }
        Assert.That(layers, Is.EqualTo(MaMAConfig.Tiny.Text.NLayer), "one c_attn LoRA per GPT-2 block");
        Assert.That(keys, Has.Count.EqualTo(8 * layers), "no two (rank, layer) pairs share a Philox key");
    }

    [TestCase(0, 1, null, null)]            // one rank per machine: leave CUDA alone
    [TestCase(1, 4, null, "1")]             // mpirun on a 4-GPU machine: local rank k -> GPU k
    [TestCase(2, 4, "4,5,6,7", "6")]        // Slurm --gpus-per-node lists the job's GPUs
    [TestCase(3, 2, "0,1", "1")]            // more ranks than GPUs: they share round robin
    [TestCase(1, 8, "5", null)]             // --gpus-per-task: the launcher already chose
    public void Local_rank_k_sees_the_kth_gpu(int localRank, int localSize, string? current, string? expected) =>
        Assert.That(GpuSelection.VisibleDevicesFor(localRank, localSize, current), Is.EqualTo(expected));
}
