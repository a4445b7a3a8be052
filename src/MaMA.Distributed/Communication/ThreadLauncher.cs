using System.Runtime.ExceptionServices;

namespace MaMA.Distributed.Communication;

/// <summary>
/// Runs a data-parallel job as <c>ranks</c> threads of this process, one <see cref="ThreadCommunicator"/>
/// each (`mama pretrain --launcher threads --ranks N`). The first rank to fail aborts the group, so
/// the others leave their collectives with <see cref="ThreadGroupAbortedException"/> rather than wait
/// for it; <see cref="Run"/> then rethrows that first failure as a <see cref="RankFailedException"/>.
/// </summary>
public static class ThreadLauncher
{
    /// <summary>Stack of each rank thread: a training step's call depth is that of the main thread, which has 8 MiB on Linux.</summary>
    public const int StackBytes = 8 << 20;

    /// <summary>
    /// Runs <paramref name="body"/>(communicator) on one thread per rank and returns every rank's
    /// exit code once all have ended. Throws <see cref="RankFailedException"/> (the first rank to
    /// fail, its exception inside) when a body threw.
    /// </summary>
    public static int[] Run(int ranks, Func<ThreadCommunicator, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ThreadCommunicator[] comms = ThreadGroup.Create(ranks);
        var codes = new int[ranks];
        var failures = new Exception?[ranks];
        var order = new List<int>();
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    codes[rank] = body(comms[rank]);
                }
                catch (Exception e)
                {
                    failures[rank] = e;
                    lock (order) order.Add(rank);
                    comms[rank].Group.Abort(rank, e);
                }
            }, StackBytes)
            { Name = $"rank {rank}/{ranks}", IsBackground = true };
        }
        foreach (Thread t in threads) t.Start();
        foreach (Thread t in threads) t.Join();
        // The rank that failed first, not one that only saw the abort.
        int? first = order.Cast<int?>().FirstOrDefault(r => failures[r!.Value] is not ThreadGroupAbortedException) ?? order.Cast<int?>().FirstOrDefault();
        if (first is { } f) throw new RankFailedException(f, ranks, failures[f]!);
        return codes;
    }
}

/// <summary>Rank <see cref="Rank"/> of a <see cref="ThreadLauncher"/> job failed; <see cref="Exception.InnerException"/> is why.</summary>
public sealed class RankFailedException(int rank, int ranks, Exception inner)
    : Exception($"rank {rank}/{ranks} failed: {inner.Message}", inner)
{
    public int Rank { get; } = rank;

    /// <summary>Rethrows the rank's own exception with its stack trace.</summary>
    public void Rethrow() => ExceptionDispatchInfo.Throw(InnerException!);
}
