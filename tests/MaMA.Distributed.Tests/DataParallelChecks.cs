using System.Text.Json;

namespace MaMA.Distributed.Tests;

/// <summary>
/// Several ranks against one process on the doubled (global) batch, through MaMA.MpiCheck. The
/// checks are the same for every launcher; the fixtures below this class choose it: processes under
/// mpirun (<see cref="MpiTests"/>) or threads of one process (<see cref="ThreadRankTests"/>).
/// </summary>
public abstract class DataParallelChecks
{
    /// <summary>Runs MaMA.MpiCheck's <paramref name="check"/> on <paramref name="ranks"/> ranks and returns rank 0's report.</summary>
    protected abstract JsonElement Check(int ranks, string check, params string[] options);

    [TestCase(2)]
    [TestCase(3)]
    public void Collectives_match_their_closed_forms(int ranks)
    {
        JsonElement r = Check(ranks, "collectives");
        Assert.That(r.GetProperty("failures").GetString(), Is.Empty);
        Assert.That(r.GetProperty("ok").GetBoolean());
        Assert.That(r.GetProperty("ranks").GetInt32(), Is.EqualTo(ranks));
    }

    /// <summary>
    /// CLIP, NT-Xent and SLA over gathered embeddings equal the single-process losses over the global
    /// batch, and the averaged parameter gradients equal the single-process gradients, for both exact
    /// backward modes (all-reduced, and replicated x R).
    /// </summary>
    [TestCase("sum")]
    [TestCase("replicated")]
    public void Global_losses_and_gradients_equal_one_process_on_the_global_batch(string backward)
    {
        JsonElement r = Check(2, "losses", "--backward", backward);
        Assert.That(r.GetProperty("global_batch").GetInt32(), Is.EqualTo(6));
        Assert.That(r.GetProperty("buckets").GetInt32(), Is.GreaterThan(1), "the check uses small buckets so several reductions are in flight");
        foreach (JsonProperty loss in r.GetProperty("losses").EnumerateObject())
        {
            double mine = loss.Value[0].GetDouble(), reference = loss.Value[1].GetDouble();
            Assert.That(mine, Is.EqualTo(reference).Within(1e-6 * Math.Abs(reference)), loss.Name);
        }
        foreach (JsonProperty g in r.GetProperty("gradient_relative_error").EnumerateObject())
            Assert.That(g.Value.GetDouble(), Is.LessThan(1e-5), $"gradient of {g.Name}");
    }

    /// <summary>
    /// Why the backward must sum over ranks (or scale by R): with only the local slice of the
    /// gradient, the embedding path gets 1/R of its gradient after averaging while the scales get all
    /// of theirs, which no learning-rate change repairs.
    /// </summary>
    [Test]
    public void Local_only_backward_gives_the_embeddings_one_over_R_of_their_gradient()
    {
        JsonElement r = Check(2, "losses", "--backward", "local");
        JsonElement ratios = r.GetProperty("gradient_norm_ratio");
        foreach (string w in new[] { "wv", "wt", "wz", "wp", "ws" })
            Assert.That(ratios.GetProperty(w).GetDouble(), Is.EqualTo(0.5).Within(1e-5), w);
        Assert.That(ratios.GetProperty("logit_scale").GetDouble(), Is.EqualTo(1.0).Within(1e-6));
        Assert.That(ratios.GetProperty("local_scale").GetDouble(), Is.EqualTo(1.0).Within(1e-6));
    }

    /// <summary>
    /// Three AdamW steps of MaMAConfig.Tiny on 2 x 2 pairs equal three steps of one process on the
    /// 4-pair batch: losses per step and every parameter. The tolerance is state-level: Adam turns
    /// rounding noise in gradients that are zero in exact arithmetic (the attention key bias, softmax
    /// invariant) into updates of up to lr, so those tensors differ by ~1e-4 relative; the rest by ~1e-5.
    /// </summary>
    [Test]
    public void Three_training_steps_on_two_ranks_equal_one_process_with_the_doubled_batch()
    {
        JsonElement r = Check(2, "train", "--steps", "3");
        AssertStepsMatchTheReference(r, 3);
        foreach (JsonProperty p in r.GetProperty("parameter_relative_error").EnumerateObject())
            if (!p.Name.EndsWith(".attn.qkv.bias", StringComparison.Ordinal))
                Assert.That(p.Value.GetDouble(), Is.LessThan(5e-5), p.Name);
    }

    /// <summary>
    /// The train check's per-step losses equal its one-process reference's (1e-5 relative), the
    /// parameters end within 1e-3 relative, and the steps moved them; returns the losses.
    /// </summary>
    private static double[] AssertStepsMatchTheReference(JsonElement r, int steps)
    {
        double[] mine = r.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] reference = r.GetProperty("reference_losses").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.That(mine, Has.Length.EqualTo(steps));
        for (int s = 0; s < steps; s++) Assert.That(mine[s], Is.EqualTo(reference[s]).Within(1e-5 * Math.Abs(reference[s])), $"loss of step {s + 1}");
        Assert.That(r.GetProperty("max_parameter_relative_error").GetDouble(), Is.LessThan(1e-3));
        Assert.That(r.GetProperty("max_parameter_relative_change").GetDouble(), Is.GreaterThan(1e-2), "the steps must move the parameters");
        return mine;
    }

    /// <summary>
    /// Per-rank negatives (the published run) before the late step: CLIP within each rank's 2 pairs,
    /// and three AdamW steps equal one process that takes each rank's rows as a micro-batch of its own
    /// and averages (loss / R per micro-batch). The same steps with global negatives score 4 pairs per
    /// CLIP and must differ from step 1 on.
    /// </summary>
    [Test]
    public void Three_training_steps_with_per_rank_negatives_equal_one_process_over_each_ranks_rows()
    {
        JsonElement r = Check(2, "train", "--steps", "3", "--negatives", "per_rank");
        Assert.That(r.GetProperty("negatives").GetString(), Is.EqualTo("PerRank"));
        double[] mine = AssertStepsMatchTheReference(r, 3);

        JsonElement global = Check(2, "train", "--steps", "1", "--negatives", "global");
        double globalLoss = global.GetProperty("losses")[0].GetDouble();
        Assert.That(Math.Abs(globalLoss - mine[0]), Is.GreaterThan(1e-3 * Math.Abs(mine[0])), "CLIP over 4 pairs is not the mean of CLIP over 2");
    }

    /// <summary>
    /// Per-rank negatives at a late step, every term on: each rank's CLIP (both views) and SLA equal one
    /// process over that rank's rows, every rank's NT-Xent equals NT-Xent over the global batch (and
    /// not over rank 0's rows alone), and the averaged gradients equal the gradient of
    /// mean_r [CLIP_r + SLA_r] + NT-Xent(global) built in one process.
    /// </summary>
    [Test]
    public void Per_rank_negatives_at_a_late_step_give_the_published_objective_and_its_gradient()
    {
        JsonElement r = Check(2, "negatives");
        foreach (JsonProperty term in r.GetProperty("terms").EnumerateObject())
        {
            double mine = term.Value[0].GetDouble(), reference = term.Value[1].GetDouble();
            Assert.That(double.IsFinite(reference), term.Name);
            Assert.That(mine, Is.EqualTo(reference).Within(1e-5 * Math.Abs(reference)), term.Name);
        }
        double rank0 = r.GetProperty("terms").GetProperty("rank0_ntxent")[1].GetDouble();
        Assert.That(Math.Abs(r.GetProperty("ntxent_rank0_rows_only").GetDouble() - rank0), Is.GreaterThan(1e-3), "NT-Xent over 3 pairs differs from NT-Xent over 6");
        Assert.That(r.GetProperty("parameters_with_gradient").GetInt32(), Is.GreaterThan(20), "late step: the heads and both scales train");
        foreach (JsonProperty g in r.GetProperty("gradient_relative_error").EnumerateObject())
            Assert.That(g.Value.GetDouble(), Is.LessThan(1e-4), $"gradient of {g.Name}");
    }

    /// <summary>
    /// From the late-loss step on every term runs; the BatchNorm heads normalise per rank (as the
    /// published DDP run), so the losses are close to but not equal to one process. The replicas
    /// stay identical (the check verifies the parameter checksums after every step, with the
    /// BatchNorm statistics broadcast from rank 0).
    /// </summary>
    [Test]
    public void Late_loss_steps_keep_the_replicas_identical()
    {
        JsonElement r = Check(2, "train", "--steps", "2", "--late");
        Assert.That(r.GetProperty("losses").EnumerateArray().All(e => double.IsFinite(e.GetDouble())));
        Assert.That(r.GetProperty("late").GetBoolean());
    }

    /// <summary>
    /// Buckets started during the last micro-batch's backward (GradientBucketer.Overlap) give
    /// bit-identical averaged gradients to the buckets started after it, on a replica trained side
    /// by side; the step where the late loss starts changes the plan (overlap discarded, reduced again).
    /// </summary>
    [TestCase(2)]
    [TestCase(3)]
    public void Overlapped_gradient_buckets_are_bit_identical_to_the_plain_path(int ranks)
    {
        JsonElement r = Check(ranks, "overlap", "--steps", "4");
        bool[] overlapped = r.GetProperty("overlapped").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
        Assert.That(overlapped, Is.EqualTo(new[] { false, false, true, true }), "no plan at step 0, plan change at the late step 1, overlap after");
        Assert.That(r.GetProperty("overlapped_buckets").EnumerateArray().Select(e => e.GetInt32()).Skip(2), Has.All.GreaterThan(1));
        Assert.That(r.GetProperty("differing_gradients").EnumerateArray().Select(e => e.GetInt32()), Has.All.EqualTo(0));
        Assert.That(r.GetProperty("compared_gradients").EnumerateArray().Select(e => e.GetInt32()), Has.All.GreaterThan(10));
        Assert.That(r.GetProperty("checksum_a").GetInt64(), Is.EqualTo(r.GetProperty("checksum_b").GetInt64()));
    }
    /// <summary>
    /// Start-up sends only what can differ between ranks (trained parameters and buffers), not the
    /// frozen base, and the replicas then verify equal; a frozen tensor that one rank built
    /// differently is still found by the digest comparison and named, with the rank.
    /// </summary>
    [TestCase(2)]
    [TestCase(3)]
    public void Start_up_broadcast_leaves_out_the_frozen_base_and_verify_still_names_a_differing_frozen_tensor(int ranks)
    {
        JsonElement r = Check(ranks, "sync");
        long total = r.GetProperty("total_bytes").GetInt64(), frozen = r.GetProperty("frozen_bytes").GetInt64();
        long sent = r.GetProperty("broadcast_bytes").GetInt64();
        Assert.That(r.GetProperty("frozen_tensors").GetInt32(), Is.GreaterThan(10));
        Assert.That(frozen, Is.GreaterThan(total / 2), "the Tiny model's frozen base is most of its state, as BioMedLM in the paper model");
        Assert.That(sent, Is.EqualTo(total - frozen), "exactly the trained parameters and the buffers are sent");
        Assert.That(r.GetProperty("last_broadcast_bytes").GetInt64(), Is.EqualTo(sent));
        Assert.That(r.GetProperty("broadcast_bytes_again").GetInt64(), Is.EqualTo(sent));
        Assert.That(r.GetProperty("failure_before_broadcast").GetString(), Does.Contain("differs between rank 0 and rank(s)"), "the ranks' trained parts differ before the broadcast");
        string changed = r.GetProperty("changed_frozen_tensor").GetString()!;
        string? failure = r.GetProperty("failure_after_change").GetString();
        Assert.That(failure, Does.Contain($"'{changed}' differs between rank 0 and rank(s) {ranks - 1}"));
        Assert.That(failure, Does.Contain("frozen tensor"));
    }
}
