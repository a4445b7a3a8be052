using System.Numerics.Tensors;

namespace MaMA.Distributed.Communication;

/// <summary>
/// The ranks of a data-parallel run as threads of one process: what the <see cref="ThreadCommunicator"/>s
/// of one group share. Blocking collectives meet at a barrier: every rank publishes its
/// contribution in its slot, passes the barrier, reads every slot in rank order, and passes it again
/// before the slots are reused. Non-blocking reductions pair up by their sequence number on each rank
/// (the k-th started on every rank form one reduction, as MPI orders them on their communicator): the
/// last rank to start one sums the buffers in rank order and writes the sum into every rank's buffer.
/// Every rank adds the same values in the same order, so the results are bit-identical on all ranks.
/// <para>
/// A rank that fails calls <see cref="Abort"/>: every rank waiting in a collective, now or later,
/// gets a <see cref="ThreadGroupAbortedException"/> naming the cause, instead of waiting forever.
/// </para>
/// </summary>
public sealed class ThreadGroup
{
    private readonly Barrier _barrier;
    private readonly object?[] _slots;
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Round> _rounds = new();
    private Exception? _cause;
    private int _causeRank = -1;

    private ThreadGroup(int size)
    {
        Size = size;
        _barrier = new Barrier(size);
        _slots = new object?[size];
    }

    /// <summary>Number of ranks.</summary>
    public int Size { get; }

    /// <summary>A group of <paramref name="size"/> ranks: element k is rank k's communicator, for its thread alone.</summary>
    public static ThreadCommunicator[] Create(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var group = new ThreadGroup(size);
        return Enumerable.Range(0, size).Select(r => new ThreadCommunicator(group, r)).ToArray();
    }

    /// <summary>Ends every collective of the group, now and later, with <paramref name="cause"/> (the first cause is kept).</summary>
    public void Abort(int rank, Exception cause)
    {
        lock (_gate)
        {
            if (_cause is not null) return;
            _cause = cause;
            _causeRank = rank;
        }
        _abort.Cancel();
    }

    /// <summary>Whether a rank has aborted the group.</summary>
    public bool IsAborted => _abort.IsCancellationRequested;

    /// <summary>Publishes <paramref name="value"/> as <paramref name="rank"/>'s contribution and waits until every rank has published.</summary>
    internal void Publish(int rank, object? value)
    {
        _slots[rank] = value;
        Meet();
    }

    /// <summary>Rank <paramref name="rank"/>'s published contribution (between <see cref="Publish"/> and <see cref="Meet"/>).</summary>
    internal T Slot<T>(int rank) => (T)_slots[rank]!;

    /// <summary>Waits until every rank has arrived here.</summary>
    internal void Meet()
    {
        try
        {
            _barrier.SignalAndWait(_abort.Token);
        }
        catch (OperationCanceledException)
        {
            throw Aborted();
        }
    }

    /// <summary>
    /// Joins non-blocking reduction number <paramref name="sequence"/> with <paramref name="rank"/>'s
    /// buffer; the last rank to join reduces. Returns the round to wait on.
    /// </summary>
    internal Round Join(long sequence, int rank, float[] buffer)
    {
        if (IsAborted) throw Aborted();
        Round round;
        bool last;
        lock (_gate)
        {
            if (!_rounds.TryGetValue(sequence, out round!))
            {
                round = new Round(Size);
                _rounds[sequence] = round;
            }
            round.Buffers[rank] = buffer;
            last = ++round.Joined == Size;
            if (last) _rounds.Remove(sequence);
        }
        if (last) round.Reduce();
        return round;
    }

    internal ThreadGroupAbortedException Aborted()
    {
        lock (_gate)
            return new ThreadGroupAbortedException(_causeRank, _cause);
    }

    internal CancellationToken AbortToken => _abort.Token;

    /// <summary>One non-blocking reduction: every rank's buffer, reduced in place by the last rank to join.</summary>
    internal sealed class Round(int size)
    {
        public readonly float[][] Buffers = new float[size][];
        public int Joined;
        private readonly ManualResetEventSlim _done = new();
        private Exception? _failure;

        public void Reduce()
        {
            try
            {
                int n = Buffers[0].Length;
                for (int r = 1; r < Buffers.Length; r++)
                    if (Buffers[r].Length != n)
                        throw new InvalidOperationException($"non-blocking all-reduce: rank {r} passed {Buffers[r].Length} elements, rank 0 {n}.");
                var sum = new float[n];
                Buffers[0].CopyTo(sum, 0);
                for (int r = 1; r < Buffers.Length; r++) TensorPrimitives.Add(sum, Buffers[r], sum);
                foreach (float[] b in Buffers) sum.CopyTo(b, 0);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            _done.Set();
        }

        public void Wait(ThreadGroup group)
        {
            try
            {
                _done.Wait(group.AbortToken);
            }
            catch (OperationCanceledException)
            {
                if (!_done.IsSet) throw group.Aborted();
            }
            if (_failure is not null) throw new InvalidOperationException(_failure.Message, _failure);
        }
    }
}

/// <summary>A collective of a <see cref="ThreadGroup"/> ended because a rank failed.</summary>
public sealed class ThreadGroupAbortedException(int rank, Exception? cause)
    : Exception($"rank {rank} of the thread group failed{(cause is null ? "" : ": " + cause.Message)}", cause)
{
    /// <summary>The rank whose failure ended the group.</summary>
    public int FailedRank { get; } = rank;
}
