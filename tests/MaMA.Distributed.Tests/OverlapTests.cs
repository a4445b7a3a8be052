using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.Tests;

/// <summary>GradientBucketer.Overlap on one process: buckets start during backward, results equal the plain path.</summary>
[TestFixture]
public sealed class OverlapTests
{
    /// <summary>One process, counting the non-blocking reductions started and the sizes in start order.</summary>
    private sealed class Counting : ICommunicator
    {
        private readonly ICommunicator _inner = SingleProcessCommunicator.Instance;
        public readonly List<int> Started = [];
        public int Rank => 0;
        public int Size => 1;
        public int LocalRank => 0;
        public int LocalSize => 1;
        public string Description => "counting";
        public void AllReduceSum<T>(Span<T> buffer) where T : unmanaged => _inner.AllReduceSum(buffer);
        public IPendingReduction StartAllReduceSum(float[] buffer)
        {
            Started.Add(buffer.Length);
            return _inner.StartAllReduceSum(buffer);
        }
        public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged => _inner.AllGather(local, all);
        public (T[] All, int[] Counts) AllGatherVariable<T>(ReadOnlySpan<T> local) where T : unmanaged => _inner.AllGatherVariable(local);
        public void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged => _inner.Broadcast(buffer, root);
        public void Barrier() { }
        public void Dispose() { }
    }

    private static Parameter[] Make() =>
    [
        new(Tensor.FromArray(new float[] { 1, 2 }, [2]), "a"),
        new(Tensor.FromArray(new float[] { 3, 4, 5 }, [3]), "b"),
        new(Tensor.FromArray(new float[] { 6 }, [1]), "c"),
        new(Tensor.FromArray(new float[] { 7, 8 }, [2]), "d"),
    ];

    /// <summary>a feeds b feeds c (so c is final first, a last); d only when <paramref name="useD"/>.</summary>
    private static void Backward(Parameter[] p, int step, bool useD)
    {
        Tensor x = Tensor.FromArray(new float[] { 0.5f + step, -1 }, [2]);
        Tensor h = Ops.Sum(Ops.Mul(p[0], x));
        Tensor y = Ops.Sum(Ops.Mul(p[1], h));
        Tensor loss = Ops.Mul(y, p[2]);
        if (useD) loss = Ops.Add(loss, Ops.Sum(Ops.Mul(p[3], p[3])));
        Ops.Sum(loss).Backward();
    }

    [Test]
    public void Buckets_start_during_backward_last_first_and_the_result_equals_the_plain_path()
    {
        Parameter[] mine = Make(), plain = Make();
        var comm = new Counting();
        var overlapped = new GradientBucketer(comm, mine, bucketBytes: 12);   // buckets [a], [b], [c]
        var reference = new GradientBucketer(SingleProcessCommunicator.Instance, plain, bucketBytes: 12);
        bool[] useD = [false, false, true, true];
        for (int step = 0; step < useD.Length; step++)
        {
            foreach (Parameter[] set in new[] { mine, plain })
                foreach (Parameter q in set) q.Grad = null;
            Backward(plain, step, useD[step]);   // a first micro-batch without overlap
            Backward(mine, step, useD[step]);
            comm.Started.Clear();
            int duringBackward;
            using (overlapped.Overlap())
            {
                Backward(plain, step, useD[step]);
                Backward(mine, step, useD[step]);
                duringBackward = comm.Started.Count;
            }
            overlapped.AllReduceMean();
            reference.AllReduceMean();
            for (int i = 0; i < mine.Length; i++)
            {
                if (plain[i].Grad is null) Assert.That(mine[i].Grad, Is.Null, $"step {step}: {mine[i].Name}");
                else Assert.That(mine[i].Grad!.ToFloatArray(), Is.EqualTo(plain[i].Grad!.ToFloatArray()), $"step {step}: {mine[i].Name}");
            }
            switch (step)
            {
                case 0: // no plan yet: plain path
                    Assert.That(duringBackward, Is.EqualTo(0));
                    Assert.That(overlapped.LastOverlapped, Is.False);
                    break;
                case 1: // the plan of step 0 holds: all three buckets start in backward, c's first
                    Assert.That(duringBackward, Is.EqualTo(3));
                    Assert.That(comm.Started, Is.EqualTo(new[] { 1, 3, 2 }));
                    Assert.That(overlapped.LastOverlapped, Is.True);
                    Assert.That(overlapped.LastOverlappedBuckets, Is.EqualTo(3));
                    break;
                case 2: // d gets a gradient: the plan changed, buckets discarded and reduced again
                    Assert.That(overlapped.LastOverlapped, Is.False);
                    Assert.That(overlapped.LastBucketCount, Is.EqualTo(3)); // [a], [b], [c, d]
                    break;
                case 3:
                    Assert.That(overlapped.LastOverlapped, Is.True);
                    Assert.That(overlapped.LastOverlappedBuckets, Is.EqualTo(3));
                    break;
            }
        }
    }
}
