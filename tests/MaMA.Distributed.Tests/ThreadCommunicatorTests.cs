using MaMA.Distributed.Communication;

namespace MaMA.Distributed.Tests;

/// <summary>
/// The thread communicator's own contract, beyond the collective closed forms of
/// <see cref="ThreadRankTests"/>: sums identical to the bit on every rank and equal to the
/// rank-order sum, non-blocking reductions paired by their order on each rank even when the ranks
/// start them around blocking collectives at different points, and a failing rank ending the others'
/// waits instead of hanging them.
/// </summary>
[TestFixture]
public sealed class ThreadCommunicatorTests
{
    /// <summary>Runs a thread job with a deadline, so a hang fails the test instead of the run.</summary>
    private static int[] RunWithin(int ranks, Func<ThreadCommunicator, int> body)
    {
        Task<int[]> job = Task.Run(() => ThreadLauncher.Run(ranks, body));
        Assert.That(job.Wait(TimeSpan.FromSeconds(60)), Is.True, "the rank threads did not finish in 60 s");
        return job.Result;
    }

    [Test]
    public void Sums_are_the_rank_order_sum_and_bit_identical_on_every_rank()
    {
        const int ranks = 3, n = 1001;
        float[][] inputs = Enumerable.Range(0, ranks).Select(r =>
        {
            var rng = new Random(10 + r);
            return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-3, 4)))).ToArray();
        }).ToArray();
        var blocking = new float[ranks][];
        var nonBlocking = new float[ranks][];
        RunWithin(ranks, comm =>
        {
            float[] a = (float[])inputs[comm.Rank].Clone(), b = (float[])inputs[comm.Rank].Clone();
            comm.AllReduceSum<float>(a);
            comm.StartAllReduceSum(b).Wait();
            blocking[comm.Rank] = a;
            nonBlocking[comm.Rank] = b;
            return 0;
        });
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = (inputs[0][i] + inputs[1][i]) + inputs[2][i];
        for (int r = 0; r < ranks; r++)
        {
            Assert.That(blocking[r], Is.EqualTo(expected), $"blocking sum on rank {r}");
            Assert.That(nonBlocking[r], Is.EqualTo(expected), $"non-blocking sum on rank {r}");
        }
    }

    [Test]
    public void Non_blocking_reductions_pair_by_their_order_on_each_rank_around_blocking_collectives()
    {
        const int ranks = 2;
        var results = new float[ranks][][];
        RunWithin(ranks, comm =>
        {
            float[] first = [1f + comm.Rank], second = [10f * (1 + comm.Rank)];
            var gathered = new int[ranks];
            IPendingReduction a, b;
            if (comm.Rank == 0)
            {
                // Rank 0 starts both before the blocking gather, rank 1 after it.
                a = comm.StartAllReduceSum(first);
                b = comm.StartAllReduceSum(second);
                comm.AllGather<int>([comm.Rank], gathered);
            }
            else
            {
                comm.AllGather<int>([comm.Rank], gathered);
                a = comm.StartAllReduceSum(first);
                b = comm.StartAllReduceSum(second);
            }
            b.Wait();
            a.Wait();
            Assert.That(gathered, Is.EqualTo(new[] { 0, 1 }));
            results[comm.Rank] = [first, second];
            return 0;
        });
        for (int r = 0; r < ranks; r++)
        {
            Assert.That(results[r][0], Is.EqualTo(new[] { 3f }), $"first reduction on rank {r}");
            Assert.That(results[r][1], Is.EqualTo(new[] { 30f }), $"second reduction on rank {r}");
        }
    }

    [Test]
    public void Exit_codes_come_back_per_rank() =>
        Assert.That(RunWithin(3, comm => { comm.Barrier(); return 10 + comm.Rank; }), Is.EqualTo(new[] { 10, 11, 12 }));

    [Test]
    public void A_failing_rank_ends_the_others_waits_and_is_reported_as_the_cause()
    {
        var seen = new Exception?[3];
        var job = Task.Run(() => ThreadLauncher.Run(3, comm =>
        {
            try
            {
                if (comm.Rank == 1) throw new InvalidOperationException("data folder missing");
                // Ranks 0 and 2 wait for rank 1 in a blocking and in a non-blocking collective.
                if (comm.Rank == 0) comm.Barrier();
                else comm.StartAllReduceSum(new float[4]).Wait();
                return 0;
            }
            catch (Exception e)
            {
                seen[comm.Rank] = e;
                throw;
            }
        }));
        var failure = Assert.Throws<AggregateException>(() => job.Wait(TimeSpan.FromSeconds(60)))!.InnerException as RankFailedException;
        Assert.That(failure, Is.Not.Null);
        Assert.That(failure!.Rank, Is.EqualTo(1));
        Assert.That(failure.InnerException, Is.TypeOf<InvalidOperationException>());
        Assert.That(failure.Message, Is.EqualTo("rank 1/3 failed: data folder missing"));
        foreach (int r in new[] { 0, 2 })
        {
            Assert.That(seen[r], Is.TypeOf<ThreadGroupAbortedException>(), $"rank {r}");
            Assert.That(((ThreadGroupAbortedException)seen[r]!).FailedRank, Is.EqualTo(1));
            Assert.That(seen[r]!.Message, Does.Contain("data folder missing"));
        }
    }

    [Test]
    public void Mismatched_sizes_are_named()
    {
        var job = Task.Run(() => ThreadLauncher.Run(2, comm =>
        {
            comm.AllReduceSum<float>(new float[comm.Rank == 0 ? 3 : 4]);
            return 0;
        }));
        var failure = Assert.Throws<AggregateException>(() => job.Wait(TimeSpan.FromSeconds(60)))!.InnerException as RankFailedException;
        Assert.That(failure?.InnerException?.Message, Does.Match("all-reduce: rank [01] passed [34] elements, rank [01] [34]"));
    }
}
