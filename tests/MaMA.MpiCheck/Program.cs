using System.Text.Json;
using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.MpiCheck;

// mama-mpicheck CHECK OUT.json [options]: CHECK is collectives | losses | train | negatives | overlap | sync (see the Check* types).
// Under mpirun every process is a rank (MPI); with --threads N the ranks are N threads of this process
// (ThreadCommunicator); otherwise the process is a group of one.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: MaMA.MpiCheck collectives|losses|train|negatives|overlap|sync OUT.json [--backward sum|replicated|local] [--steps K] [--late] [--negatives per_rank|global] [--threads N]");
    return 2;
}
string[] options = args.Skip(2).ToArray();
if (Option(options, "--threads") is { } threadsText)
{
    try
    {
        ThreadLauncher.Run(int.Parse(threadsText), comm => RunCheck(comm));
        return 0;
    }
    catch (RankFailedException e)
    {
        Console.Error.WriteLine(e.InnerException);
        return 1;
    }
}
ICommunicator world = LaunchEnvironment.Read().UnderLauncher ? MpiCommunicator.Initialize() : SingleProcessCommunicator.Instance;
try
{
    return RunCheck(world);
}
catch (Exception e)
{
    Console.Error.WriteLine($"rank {world.Rank}: {e}");
    if (world is MpiCommunicator mpi) mpi.Abort(1);
    return 1;
}

int RunCheck(ICommunicator comm)
{
    Dictionary<string, object?> report = args[0] switch
    {
        "collectives" => CheckCollectives.Run(comm),
        "losses" => CheckLosses.Run(comm, Option(options, "--backward") ?? "replicated"),
        "train" => CheckTraining.Run(comm, int.Parse(Option(options, "--steps") ?? "3"), options.Contains("--late"), NegativesOption()),
        "negatives" => CheckNegatives.Run(comm),
        "overlap" => CheckOverlap.Run(comm, int.Parse(Option(options, "--steps") ?? "4")),
        "sync" => CheckSync.Run(comm),
        _ => throw new ArgumentException($"unknown check '{args[0]}'"),
    };
    report["ranks"] = comm.Size;
    report["communicator"] = comm.Description;
    if (comm.Rank == 0) File.WriteAllText(args[1], JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
    comm.Barrier();
    comm.Dispose();
    return 0;
}

Negatives NegativesOption() => Option(options, "--negatives") switch
{
    null or "global" => Negatives.Global,
    "per_rank" => Negatives.PerRank,
    string other => throw new ArgumentException($"--negatives {other}: per_rank or global"),
};

static string? Option(string[] args, string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
