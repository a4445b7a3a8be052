using System.Text.Json;
using MaMA.Distributed.Communication;
using MaMA.MpiCheck;

// mama-mpicheck CHECK OUT.json [options]: CHECK is collectives | losses | train | overlap | sync (see the Check* types).
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: MaMA.MpiCheck collectives|losses|train|overlap|sync OUT.json [--backward sum|replicated|local] [--steps K] [--late]");
    return 2;
}
ICommunicator comm = LaunchEnvironment.Read().UnderLauncher ? MpiCommunicator.Initialize() : SingleProcessCommunicator.Instance;
try
{
    var options = args.Skip(2).ToArray();
    Dictionary<string, object?> report = args[0] switch
    {
        "collectives" => CheckCollectives.Run(comm),
        "losses" => CheckLosses.Run(comm, Option(options, "--backward") ?? "replicated"),
        "train" => CheckTraining.Run(comm, int.Parse(Option(options, "--steps") ?? "3"), options.Contains("--late")),
        "overlap" => CheckOverlap.Run(comm, int.Parse(Option(options, "--steps") ?? "4")),
        "sync" => CheckSync.Run(comm),
        _ => throw new ArgumentException($"unknown check '{args[0]}'"),
    };
    report["ranks"] = comm.Size;
    if (comm.Rank == 0) File.WriteAllText(args[1], JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
    comm.Barrier();
    comm.Dispose();
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"rank {comm.Rank}: {e}");
    if (comm is MpiCommunicator mpi) mpi.Abort(1);
    return 1;
}

static string? Option(string[] args, string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
