namespace MaMA.Distributed.Communication;

/// <summary>
/// The group of one: every collective is the identity (a gather copies). Lets the distributed
/// code path run, and be tested, without MPI; `mama pretrain` without a launcher uses it.
/// </summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public static SingleProcessCommunicator Instance { get; } = new();

    public int Rank => 0;

    public int Size => 1;

    public int LocalRank => 0;

    public int LocalSize => 1;

    public string Description => "single process";

    public void AllReduceSum<T>(Span<T> buffer) where T : unmanaged { }

    public IPendingReduction StartAllReduceSum(float[] buffer) => Done.Instance;

    public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged
    {
        if (all.Length != local.Length)
            throw new ArgumentException($"all-gather: the output holds {all.Length} elements, expected {local.Length} (1 rank).", nameof(all));
        local.CopyTo(all);
    }

    public (T[] All, int[] Counts) AllGatherVariable<T>(ReadOnlySpan<T> local) where T : unmanaged => (local.ToArray(), [local.Length]);

    public void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), $"broadcast: root {root} is not a rank of a 1-process group.");
    }

    public void Barrier() { }

    public void Dispose() { }

    private sealed class Done : IPendingReduction
    {
        public static Done Instance { get; } = new();

        public void Wait() { }
    }
}
