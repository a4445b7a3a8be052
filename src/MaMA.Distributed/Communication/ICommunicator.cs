namespace MaMA.Distributed.Communication;

/// <summary>
/// The collectives data-parallel training needs, over a fixed group of <see cref="Size"/> processes
/// ("ranks"). Every rank must call every collective in the same order with compatible sizes (MPI
/// semantics); buffers are host memory. Element types: float, double, int, long, byte.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index in the group, 0 .. Size - 1.</summary>
    int Rank { get; }

    /// <summary>Number of processes.</summary>
    int Size { get; }

    /// <summary>Index among the ranks on this machine (selects the GPU).</summary>
    int LocalRank { get; }

    /// <summary>Number of ranks on this machine.</summary>
    int LocalSize { get; }

    /// <summary>Short description for logs ("mpi rank 1/4 (local 1/4)", "single process").</summary>
    string Description { get; }

    /// <summary>buffer = the element-wise sum of every rank's buffer, in place.</summary>
    void AllReduceSum<T>(Span<T> buffer) where T : unmanaged;

    /// <summary>
    /// Starts <see cref="AllReduceSum{T}"/> on <paramref name="buffer"/> without waiting; the buffer
    /// must stay untouched until the returned request is waited on. Non-blocking reductions are ordered
    /// among themselves only (MPI: a communicator of their own), so they may be started between other
    /// collectives at points that differ between ranks, as long as every rank starts them in the same order.
    /// </summary>
    IPendingReduction StartAllReduceSum(float[] buffer);

    /// <summary>
    /// Concatenates every rank's <paramref name="local"/> in rank order into <paramref name="all"/>
    /// (length Size * local.Length; every rank contributes the same count).
    /// </summary>
    void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged;

    /// <summary>
    /// Concatenates every rank's <paramref name="local"/> in rank order; counts may differ per rank
    /// (packed sentences). Returns the result and each rank's count.
    /// </summary>
    (T[] All, int[] Counts) AllGatherVariable<T>(ReadOnlySpan<T> local) where T : unmanaged;

    /// <summary>Copies <paramref name="root"/>'s buffer into every rank's buffer (same length everywhere).</summary>
    void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged;

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();
}

/// <summary>A started non-blocking reduction.</summary>
public interface IPendingReduction
{
    /// <summary>Blocks until the buffer holds the reduced values.</summary>
    void Wait();
}
