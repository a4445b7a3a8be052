using System.Runtime.InteropServices;

namespace MaMA.Distributed.Communication;

/// <summary>
/// <see cref="ICommunicator"/> over MPI_COMM_WORLD of Open MPI (see <see cref="MpiNative"/>). One per
/// process: <see cref="Initialize"/> calls MPI_Init_thread (MPI_THREAD_SERIALIZED; calls are
/// serialised by a lock, so a data-loader thread may never reach MPI itself), <see cref="Dispose"/>
/// calls MPI_Finalize. Counts above 2^30 elements are sent in chunks (MPI counts are int).
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int Chunk = 1 << 30;
    private static MpiCommunicator? s_instance;
    private readonly Lock _gate = new();
    private bool _disposed;

    // Non-blocking reductions (gradient buckets, started during backward while the losses' gathers
    // run their blocking collectives on the world communicator) use a duplicate of it, so they are
    // ordered among themselves only.
    private readonly nint _nonBlocking;

    private MpiCommunicator(int rank, int size, nint nonBlocking)
    {
        Rank = rank;
        Size = size;
        _nonBlocking = nonBlocking;
        (LocalRank, LocalSize) = FindLocalRank();
    }

    public int Rank { get; }

    public int Size { get; }

    public int LocalRank { get; }

    public int LocalSize { get; }

    public string Description => $"mpi rank {Rank}/{Size} (local {LocalRank}/{LocalSize}, host {Environment.MachineName})";

    /// <summary>Initialises MPI once per process and returns the world communicator.</summary>
    public static MpiCommunicator Initialize()
    {
        if (s_instance is { _disposed: false } existing) return existing;
        MpiNative.Load();
        int initialized, provided, rank, size;
        MpiNative.Check(MpiNative.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            MpiNative.Check(MpiNative.InitThread(null, null, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
            if (provided < MpiNative.ThreadSerialized)
                throw new InvalidOperationException($"MPI: the library provides thread level {provided}, MaMA needs MPI_THREAD_SERIALIZED ({MpiNative.ThreadSerialized}).");
        }
        MpiNative.Check(MpiNative.CommRank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
        MpiNative.Check(MpiNative.CommSize(MpiNative.CommWorld, &size), "MPI_Comm_size");
        nint dup;
        MpiNative.Check(MpiNative.CommDup(MpiNative.CommWorld, &dup), "MPI_Comm_dup");
        s_instance = new MpiCommunicator(rank, size, dup);
        return s_instance;
    }

    public void AllReduceSum<T>(Span<T> buffer) where T : unmanaged
    {
        nint type = MpiNative.TypeOf<T>();
        lock (_gate)
            fixed (T* p = buffer)
                for (int start = 0; start < buffer.Length; start += Chunk)
                    MpiNative.Check(MpiNative.Allreduce(MpiNative.InPlace, p + start, Math.Min(Chunk, buffer.Length - start), type, MpiNative.OpSum, MpiNative.CommWorld), "MPI_Allreduce");
    }

    public IPendingReduction StartAllReduceSum(float[] buffer)
    {
        if (buffer.Length > Chunk)
        {
            AllReduceSum<float>(buffer);
            return Completed.Instance;
        }
        GCHandle pin = GCHandle.Alloc(buffer, GCHandleType.Pinned);
        nint request;
        lock (_gate)
            MpiNative.Check(MpiNative.Iallreduce(MpiNative.InPlace, (void*)pin.AddrOfPinnedObject(), buffer.Length, MpiNative.Float, MpiNative.OpSum, _nonBlocking, &request), "MPI_Iallreduce");
        return new Pending(this, request, pin);
    }

    public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged
    {
        if ((long)all.Length != (long)local.Length * Size)
            throw new ArgumentException($"all-gather: the output holds {all.Length} elements, expected {Size} x {local.Length}.", nameof(all));
        if (local.Length > Chunk || all.Length > int.MaxValue)
        {
            (T[] gathered, _) = AllGatherVariable(local);
            gathered.CopyTo(all);
            return;
        }
        nint type = MpiNative.TypeOf<T>();
        lock (_gate)
            fixed (T* s = local)
            fixed (T* r = all)
                MpiNative.Check(MpiNative.Allgather(s, local.Length, type, r, local.Length, type, MpiNative.CommWorld), "MPI_Allgather");
    }

    public (T[] All, int[] Counts) AllGatherVariable<T>(ReadOnlySpan<T> local) where T : unmanaged
    {
        var counts = new int[Size];
        AllGather<int>([local.Length], counts);
        long total = counts.Sum(c => (long)c);
        if (total > int.MaxValue)
            throw new NotSupportedException($"all-gather: {total} elements in all exceed MPI's int displacements; gather in parts.");
        var displacements = new int[Size];
        for (int r = 1; r < Size; r++) displacements[r] = displacements[r - 1] + counts[r - 1];
        var all = new T[total];
        nint type = MpiNative.TypeOf<T>();
        lock (_gate)
            fixed (T* s = local)
            fixed (T* r = all)
            fixed (int* c = counts)
            fixed (int* d = displacements)
                MpiNative.Check(MpiNative.Allgatherv(s, local.Length, type, r, c, d, type, MpiNative.CommWorld), "MPI_Allgatherv");
        return (all, counts);
    }

    public void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"broadcast: root {root} is not a rank of {Size}.");
        nint type = MpiNative.TypeOf<T>();
        lock (_gate)
            fixed (T* p = buffer)
                for (int start = 0; start < buffer.Length; start += Chunk)
                    MpiNative.Check(MpiNative.Bcast(p + start, Math.Min(Chunk, buffer.Length - start), type, root, MpiNative.CommWorld), "MPI_Bcast");
    }

    public void Barrier()
    {
        lock (_gate) MpiNative.Check(MpiNative.Barrier(MpiNative.CommWorld), "MPI_Barrier");
    }

    /// <summary>
    /// Ends every rank's process with <paramref name="code"/> (MPI_Abort). A rank that fails alone
    /// must call this: the others would otherwise wait in their next collective forever.
    /// </summary>
    public void Abort(int code) => MpiNative.Abort(MpiNative.CommWorld, code);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        int finalized;
        MpiNative.Finalized(&finalized);
        if (finalized == 0) MpiNative.Finalize();
    }

    /// <summary>
    /// Local rank and size from the launcher (Open MPI's OMPI_COMM_WORLD_LOCAL_*, Slurm's
    /// SLURM_LOCALID / SLURM_NTASKS_PER_NODE), else by comparing host names across ranks.
    /// </summary>
    private (int Rank, int Size) FindLocalRank()
    {
        if (LaunchEnvironment.Read() is { LocalRank: { } lr, LocalSize: { } ls }) return (lr, ls);
        long host = HostKey();
        var hosts = new long[Size];
        AllGather<long>([host], hosts);
        int local = 0, count = 0;
        for (int r = 0; r < Size; r++)
        {
            if (hosts[r] != host) continue;
            if (r < Rank) local++;
            count++;
        }
        return (local, count);
    }

    private static long HostKey()
    {
        ulong h = 14695981039346656037UL;   // FNV-1a over the host name
        foreach (char c in Environment.MachineName) h = (h ^ c) * 1099511628211UL;
        return (long)h;
    }

    private sealed class Pending(MpiCommunicator owner, nint request, GCHandle pin) : IPendingReduction
    {
        private nint _request = request;
        private bool _done;

        public void Wait()
        {
            if (_done) return;
            _done = true;
            try
            {
                nint r = _request;
                lock (owner._gate) MpiNative.Check(MpiNative.Wait(&r, null), "MPI_Wait");
            }
            finally
            {
                pin.Free();
            }
        }
    }

    private sealed class Completed : IPendingReduction
    {
        public static Completed Instance { get; } = new();

        public void Wait() { }
    }
}
