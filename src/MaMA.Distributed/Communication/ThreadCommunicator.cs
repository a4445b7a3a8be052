using System.Runtime.InteropServices;

namespace MaMA.Distributed.Communication;

/// <summary>
/// <see cref="ICommunicator"/> for one rank of a <see cref="ThreadGroup"/>: the ranks are threads of
/// one process (one per accelerator, `mama pretrain --launcher threads`), and the collectives copy
/// through shared memory (docs/distributed.md, "Several GPUs in one machine"). All ranks are local:
/// <see cref="LocalRank"/> is the rank. Use from the rank's own thread only.
/// </summary>
public sealed class ThreadCommunicator : ICommunicator
{
    private readonly ThreadGroup _group;
    private long _nonBlocking;

    internal ThreadCommunicator(ThreadGroup group, int rank)
    {
        _group = group;
        Rank = rank;
    }

    /// <summary>The group this rank belongs to (its <see cref="ThreadGroup.Abort"/> ends every rank's collectives).</summary>
    public ThreadGroup Group => _group;

    public int Rank { get; }

    public int Size => _group.Size;

    public int LocalRank => Rank;

    public int LocalSize => Size;

    public string Description => $"thread rank {Rank}/{Size}";

    public void AllReduceSum<T>(Span<T> buffer) where T : unmanaged
    {
        _group.Publish(Rank, buffer.ToArray());
        try
        {
            int n = buffer.Length;
            for (int r = 0; r < Size; r++)
            {
                int length = _group.Slot<T[]>(r).Length;
                if (length != n) throw new InvalidOperationException($"all-reduce: rank {r} passed {length} elements, rank {Rank} {n}.");
            }
            // In rank order on every rank: the same additions everywhere, so the same bits.
            T[] sum = (T[])_group.Slot<T[]>(0).Clone();
            for (int r = 1; r < Size; r++) Add(sum, _group.Slot<T[]>(r));
            sum.CopyTo(buffer);
        }
        finally
        {
            _group.Meet();
        }
    }

    public IPendingReduction StartAllReduceSum(float[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ThreadGroup.Round round = _group.Join(_nonBlocking++, Rank, buffer);
        return new Pending(_group, round);
    }

    public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged
    {
        if (all.Length != (long)local.Length * Size)
            throw new ArgumentException($"all-gather: the output holds {all.Length} elements, expected {local.Length} x {Size} ranks.", nameof(all));
        _group.Publish(Rank, local.ToArray());
        try
        {
            for (int r = 0; r < Size; r++)
            {
                T[] part = _group.Slot<T[]>(r);
                if (part.Length != local.Length) throw new InvalidOperationException($"all-gather: rank {r} passed {part.Length} elements, rank {Rank} {local.Length}.");
                part.CopyTo(all.Slice(r * local.Length, local.Length));
            }
        }
        finally
        {
            _group.Meet();
        }
    }

    public (T[] All, int[] Counts) AllGatherVariable<T>(ReadOnlySpan<T> local) where T : unmanaged
    {
        _group.Publish(Rank, local.ToArray());
        try
        {
            var counts = new int[Size];
            for (int r = 0; r < Size; r++) counts[r] = _group.Slot<T[]>(r).Length;
            var all = new T[counts.Sum(c => (long)c)];
            int offset = 0;
            for (int r = 0; r < Size; r++)
            {
                T[] part = _group.Slot<T[]>(r);
                part.CopyTo(all, offset);
                offset += part.Length;
            }
            return (all, counts);
        }
        finally
        {
            _group.Meet();
        }
    }

    public void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"broadcast: root {root} is not a rank of a {Size}-rank group.");
        _group.Publish(Rank, Rank == root ? buffer.ToArray() : null);
        try
        {
            T[] source = _group.Slot<T[]>(root);
            if (source.Length != buffer.Length) throw new InvalidOperationException($"broadcast: root {root} sent {source.Length} elements, rank {Rank} expects {buffer.Length}.");
            if (Rank != root) source.CopyTo(buffer);
        }
        finally
        {
            _group.Meet();
        }
    }

    public void Barrier() => _group.Meet();

    /// <summary>Nothing to release: the group lives as long as its ranks' threads.</summary>
    public void Dispose() { }

    /// <summary>sum += other, element-wise, for the element types the collectives take.</summary>
    private static void Add<T>(T[] sum, T[] other) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) System.Numerics.Tensors.TensorPrimitives.Add(Cast<T, float>(sum), Cast<T, float>(other), Cast<T, float>(sum));
        else if (typeof(T) == typeof(double)) System.Numerics.Tensors.TensorPrimitives.Add(Cast<T, double>(sum), Cast<T, double>(other), Cast<T, double>(sum));
        else if (typeof(T) == typeof(int)) System.Numerics.Tensors.TensorPrimitives.Add(Cast<T, int>(sum), Cast<T, int>(other), Cast<T, int>(sum));
        else if (typeof(T) == typeof(long)) System.Numerics.Tensors.TensorPrimitives.Add(Cast<T, long>(sum), Cast<T, long>(other), Cast<T, long>(sum));
        else if (typeof(T) == typeof(byte)) System.Numerics.Tensors.TensorPrimitives.Add(Cast<T, byte>(sum), Cast<T, byte>(other), Cast<T, byte>(sum));
        else throw new NotSupportedException($"all-reduce: element type {typeof(T).Name} (float, double, int, long, byte are supported).");
    }

    private static Span<TTo> Cast<TFrom, TTo>(TFrom[] a) where TFrom : unmanaged where TTo : unmanaged => MemoryMarshal.Cast<TFrom, TTo>(a.AsSpan());

    private sealed class Pending(ThreadGroup group, ThreadGroup.Round round) : IPendingReduction
    {
        public void Wait() => round.Wait(group);
    }
}
