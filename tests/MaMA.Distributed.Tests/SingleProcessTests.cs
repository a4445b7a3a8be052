using MaMA.Distributed.Autograd;
using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Distributed.Losses;
using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.Distributed.Tests;

/// <summary>The distributed code path in a group of one (no MPI needed): it must be the plain single-process computation.</summary>
public sealed class SingleProcessTests
{
    private static readonly ICommunicator One = SingleProcessCommunicator.Instance;

    [Test]
    public void Gather_of_one_rank_is_the_tensor_and_passes_the_gradient_through([Values] GatherBackward backward)
    {
        var x = new Parameter(Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2]), "x");
        (Tensor all, int[] starts) = GatherWithGrad.Gather(One, x, backward);
        Assert.That(all.ToArray<float>(), Is.EqualTo(x.ToArray<float>()));
        Assert.That(starts, Is.EqualTo(new[] { 0, 3 }));
        Ops.Sum(Ops.Mul(all, all)).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new float[] { 2, 4, 6, 8, 10, 12 }));
    }

    [Test]
    public void Bucketer_of_one_rank_keeps_gradients_and_leaves_missing_ones_null()
    {
        var a = new Parameter(Tensor.FromArray(new float[] { 1, 2, 3 }, [3]), "a");
        var b = new Parameter(Tensor.FromArray(new float[] { 4, 5 }, [2]), "b");
        var c = new Parameter(Tensor.FromArray(new float[] { 6 }, [1]), "c");
        a.Grad = Tensor.FromArray(new float[] { 0.5f, -1, 2 }, [3]);
        c.Grad = Tensor.FromArray(new float[] { 7 }, [1]);
        var bucketer = new GradientBucketer(One, [a, b, c], bucketBytes: 8);
        bucketer.AllReduceMean();
        Assert.That(a.Grad!.ToArray<float>(), Is.EqualTo(new float[] { 0.5f, -1, 2 }));
        Assert.That(b.Grad, Is.Null);
        Assert.That(c.Grad!.ToArray<float>(), Is.EqualTo(new float[] { 7 }));
        Assert.That(bucketer.LastBucketCount, Is.EqualTo(2), "a (12 bytes) and c (4 bytes) do not share an 8-byte bucket");
        Assert.That(bucketer.LastBytes, Is.EqualTo(16));
    }

    [Test]
    public void Offsets_gather_rebuilds_the_running_sum()
    {
        Tensor global = GlobalLosses.GatherOffsets(One, Tensor.FromArray(new long[] { 0, 2, 3, 6 }, [4]), Engine.Devices.Device.Cpu);
        Assert.That(global.ToArray<long>(), Is.EqualTo(new long[] { 0, 2, 3, 6 }));
        Tensor fromInt = GlobalLosses.GatherOffsets(One, Tensor.FromArray(new[] { 0, 1, 4 }, [3]), Engine.Devices.Device.Cpu);
        Assert.That(fromInt.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 4 }));
    }

    [Test]
    public void Shards_are_contiguous_blocks_in_rank_order()
    {
        Assert.That(Enumerable.Range(0, 4).Select(r => new DataShard(r, 4, 144)).Select(s => (s.Start, s.Count)),
            Is.EqualTo(new[] { (0, 36), (36, 36), (72, 36), (108, 36) }));
        Assert.That(() => new DataShard(0, 3, 8).Count, Throws.InvalidOperationException.With.Message.Contains("multiple of 3"));
    }

    [Test]
    public void Launch_environment_reads_open_mpi_then_slurm()
    {
        var ompi = new Dictionary<string, string> { ["OMPI_COMM_WORLD_RANK"] = "5", ["OMPI_COMM_WORLD_SIZE"] = "8", ["OMPI_COMM_WORLD_LOCAL_RANK"] = "1", ["OMPI_COMM_WORLD_LOCAL_SIZE"] = "4", ["SLURM_PROCID"] = "0" };
        Assert.That(LaunchEnvironment.Read(ompi.GetValueOrDefault), Is.EqualTo(new LaunchEnvironment(5, 8, 1, 4)));
        var slurm = new Dictionary<string, string> { ["SLURM_PROCID"] = "6", ["SLURM_NTASKS"] = "8", ["SLURM_LOCALID"] = "2", ["SLURM_NTASKS_PER_NODE"] = "4(x2)" };
        Assert.That(LaunchEnvironment.Read(slurm.GetValueOrDefault), Is.EqualTo(new LaunchEnvironment(6, 8, 2, 4)));
        Assert.That(LaunchEnvironment.Read(_ => null).UnderLauncher, Is.False);
    }

    [Test]
    public void Parameter_checksums_see_a_one_ulp_change()
    {
        MaMAModel model = new(MaMAConfig.Tiny, new Random(3));
        long[] before = ParameterSync.Checksums(model);
        Assert.That(ParameterSync.Verify(One, model), Is.Not.Zero);
        float[] w = model.LogitScale.ToArray<float>();
        model.LogitScale.CopyFrom(Tensor.FromArray(new[] { MathF.BitIncrement(w[0]) }, []));
        long[] after = ParameterSync.Checksums(model);
        Assert.That(after.Zip(before).Count(p => p.First != p.Second), Is.EqualTo(1));
    }

    [Test]
    public void Frozen_part_digest_comes_from_the_tensors_or_a_recorded_sha256()
    {
        MaMAModel model = new(MaMAConfig.Tiny, new Random(3));
        var names = model.NamedParameters().Where(np => np.Parameter.IsFrozen).Select(np => np.Name).ToList();
        Assert.That(names, Is.Not.Empty);
        FrozenPart a = FrozenPart.Of(model, names), b = FrozenPart.Of(model, names);
        Assert.That(a.Digest, Is.EqualTo(b.Digest));
        Assert.That(FrozenPart.Of(model, names.Skip(1)).Digest, Is.Not.EqualTo(a.Digest));
        Assert.Throws<ArgumentException>(() => FrozenPart.Of(model, ["no.such.tensor"]));
        FrozenPart recorded = FrozenPart.FromSha256(names, "0102030405060708" + new string('f', 48));
        Assert.That(recorded.Digest, Is.EqualTo(BitConverter.ToInt64([1, 2, 3, 4, 5, 6, 7, 8])));
        Assert.That(recorded.Names, Has.Count.EqualTo(names.Count));
        // One process: nothing is sent, and the check passes.
        Assert.That(ParameterSync.BroadcastFromRoot(One, model, a), Is.Zero);
        Assert.That(ParameterSync.Verify(One, model, a), Is.Not.Zero);
    }

    /// <summary>The distributed forward of a group of one is MaMAModel.Forward, every term, whatever the negatives.</summary>
    [TestCase(0L, Negatives.PerRank)]
    [TestCase(0L, Negatives.Global)]
    [TestCase(1000L, Negatives.PerRank)]
    public void Distributed_forward_of_one_rank_equals_the_model_forward(long lateLossStep, Negatives negatives)
    {
        MaMAConfig config = MaMAConfig.Tiny with { Text = Gpt2Config.Tiny.WithoutDropout(), LateLossStep = lateLossStep };
        MaMABatch batch = TinyBatch(config, 4);
        MaMAModel a = new(config, new Random(7)), b = new(config, new Random(7));
        MaMAOutput expected = a.Forward(batch, 0);
        var forward = new DistributedMaMAForward(One, b, negatives);
        Assert.That(forward.TermNegatives, Is.SameAs(ContrastiveNegatives.Local), "one rank: every term over the local batch");
        MaMAOutput actual = forward.Forward(batch, 0);
        Assert.That(actual.Loss.Item(), Is.EqualTo(expected.Loss.Item()));
        Assert.That(actual.Late, Is.EqualTo(expected.Late));
        if (expected.Late) Assert.That(actual.LossSlaI2T!.Item(), Is.EqualTo(expected.LossSlaI2T!.Item()));
    }

    private static MaMABatch TinyBatch(MaMAConfig config, int n, int t = 16)
    {
        int size = config.Vision.ImageSize;
        var rng = new Random(11);
        float[] Pixels() => Enumerable.Range(0, n * 3 * size * size).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var ids = new long[n * t];
        var mask = new long[n * t];
        for (int m = 0; m < n; m++)
            for (int i = 0; i < t; i++)
            {
                ids[m * t + i] = i % 4 == 3 ? config.SepTokenId : rng.Next(0, 50000);
                mask[m * t + i] = 1;
            }
        return new MaMABatch(Tensor.FromArray(Pixels(), [n, 3, size, size]), Tensor.FromArray(ids, [n, t]), Tensor.FromArray(mask, [n, t]), Tensor.FromArray(Pixels(), [n, 3, size, size]));
    }
}
