using MaMA.Distributed.Communication;
using MaMA.Training.Config;
using MaMA.Training.Pretraining;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama pretrain --config FILE.json [--data DIR] [--out RUN_DIR] [--resume] [--device D] [--launcher none|mpi|threads] [--ranks N]</c>:
/// MaMA pre-training (docs/training.md). With <c>--resume</c> the run folder's newest good
/// checkpoint is continued; <c>--config</c> is then optional (the folder's config.json is used).
/// With <c>--launcher mpi</c> (started by <c>mpirun -np N</c> or srun) every process is one rank of a
/// data-parallel run (docs/distributed.md): rank k of a machine uses its k-th GPU, rank 0 writes the
/// run folder, and a rank that fails ends all of them (MPI_Abort) instead of leaving them waiting.
/// With <c>--launcher threads --ranks N</c> the N ranks are threads of this process, rank k on CUDA
/// card k (<c>cuda:k</c>; or all on the CPU with <c>--device cpu</c>), with the same run folder, data
/// shards and results as N MPI ranks and no MPI installed (docs/distributed.md).
/// Exit 0 when the run reached its last step, 1 when it stopped on non-finite steps or failed, 2 for
/// a usage mistake. Help: <c>mama pretrain --help</c> (Help/HelpTexts.cs).
/// </summary>
internal static class PretrainCommand
{
    public static int Run(CommandLine cl)
    {
        string? configPath = cl.Get("config");
        string? data = cl.Get("data");
        string outDir = cl.Get("out", Path.Combine("runs", "pretrain"));
        bool resume = cl.Flag("resume");
        string? deviceSpec = cl.Get("device");
        string launcher = cl.Get("launcher", "none");
        string? ranksText = cl.Get("ranks");
        long? stopAfter = cl.Get("stop-after") is { } stopText
            ? long.TryParse(stopText, out long st) && st > 0 ? st : throw new UsageException($"--stop-after expects a positive step number, got '{stopText}'.")
            : null;
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (configPath is null && !resume) throw new UsageException("--config FILE.json is required (e.g. configs/pretrain-tiny.json), or --resume to continue a run.");
        if (launcher is not ("none" or "mpi" or "threads")) throw new UsageException($"--launcher must be none, mpi or threads, not '{launcher}'.");
        int ranks = 1;
        if (launcher == "threads")
        {
            if (ranksText is null || !int.TryParse(ranksText, out ranks) || ranks < 1)
                throw new UsageException($"--launcher threads needs --ranks N with N >= 1 (one rank thread per CUDA card), got '{ranksText ?? ""}'.");
            if (deviceSpec is not null) CheckThreadDevice(deviceSpec);
        }
        else if (ranksText is not null)
        {
            throw new UsageException(launcher == "mpi"
                ? "--ranks is for --launcher threads; under MPI the number of ranks is mpirun's -np."
                : "--ranks needs --launcher threads.");
        }
        // Only mpirun's own variable: a Slurm batch script sets SLURM_NTASKS for the job even where one plain process runs.
        if (launcher == "none" && int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int size) && size > 1)
            throw new UsageException($"started as one of {size} processes by mpirun but --launcher is none: add --launcher mpi, " +
                                     "otherwise every process trains alone into the same run folder.");

        if (configPath is not null) EvalOptions.RequireFile(configPath, "--config", "a training config, e.g. configs/pretrain-tiny.json");
        if (data is not null) EvalOptions.RequireFolder(data, "--data", "an EMBED-shaped folder, docs/data.md");
        TrainingConfig? config = configPath is null ? null : Absolute(TrainingConfigFile.Load(configPath));
        if (resume && config is null && (data is not null || deviceSpec is not null))
        {
            config = TrainingConfigFile.Load(Path.Combine(outDir, "config.json"));
        }
        if (config is not null && data is not null) config = config with { Data = Path.GetFullPath(data) };
        if (config is not null && deviceSpec is not null) config = config with { Device = deviceSpec };
        string spec = deviceSpec ?? config?.Device ?? ReadStoredDevice(outDir);
        return launcher switch
        {
            "mpi" => RunMpi(config, outDir, resume, spec, stopAfter),
            "threads" => RunThreads(config, outDir, resume, spec, ranks, stopAfter),
            _ => RunOne(config, outDir, resume, ParseDevice(spec), null, stopAfter),
        };
    }

    /// <summary>
    /// The ranks as threads of this process (ThreadLauncher): each binds its own device and runs
    /// the same Pretrainer as an MPI rank would, over a ThreadCommunicator. A rank that fails aborts
    /// the others' collectives; the first failure is reported.
    /// </summary>
    private static int RunThreads(TrainingConfig? config, string outDir, bool resume, string spec, int ranks, long? stopAfter)
    {
        MaMA.Engine.Devices.Device[] devices = RankDevices(spec, ranks);
        try
        {
            int[] codes = ThreadLauncher.Run(ranks, comm =>
            {
                MaMA.Engine.Devices.Device device = devices[comm.Rank];
                device.BindToCurrentThread();
                return RunOne(config, outDir, resume, device, comm, stopAfter);
            });
            return codes.Max();
        }
        catch (RankFailedException e)
        {
            if (e.InnerException is UsageException usage) throw new UsageException($"rank {e.Rank}: {usage.Message}");
            ReportRankFailure($"rank {e.Rank}/{ranks}", e.InnerException!);
            return 1;
        }
    }

    /// <summary>
    /// One device per rank thread: CUDA card k for rank k (<c>cuda</c>, or <c>auto</c> on a machine
    /// with CUDA), or the CPU for every rank (<c>cpu</c>, or <c>auto</c> without CUDA: the ranks then
    /// share the cores, which checks a multi-rank run but does not speed it up).
    /// </summary>
    private static MaMA.Engine.Devices.Device[] RankDevices(string spec, int ranks)
    {
        string s = spec.Trim().ToLowerInvariant();
        int cards = MaMA.Engine.Devices.Device.CudaCount();
        if (s == "cuda" || (s == "auto" && cards > 0))
        {
            if (ranks > cards)
                throw new UsageException($"--launcher threads --ranks {ranks}: this machine has {cards} CUDA card(s), and each rank thread drives its own; " +
                                         "use at most that many ranks, or --launcher mpi (whose ranks may share a card).");
            return [.. Enumerable.Range(0, ranks).Select(k => ParseDevice($"cuda:{k}"))];
        }
        CheckThreadDevice(spec);
        return [.. Enumerable.Repeat(MaMA.Engine.Devices.Device.Cpu, ranks)];
    }

    /// <summary>The devices rank threads can take: cuda (card k for rank k), cpu, or auto (cuda when present).</summary>
    private static void CheckThreadDevice(string spec)
    {
        if (spec.Trim().ToLowerInvariant() is not ("cuda" or "cpu" or "auto"))
            throw new UsageException($"--launcher threads runs rank k on cuda:k (--device cuda) or every rank on the CPU (--device cpu), not on '{spec}'.");
    }

    /// <summary>One rank of a data-parallel run: any failure after MPI_Init ends every rank.</summary>
    private static int RunMpi(TrainingConfig? config, string outDir, bool resume, string spec, long? stopAfter)
    {
        MpiCommunicator comm;
        try
        {
            comm = MpiCommunicator.Initialize();
        }
        catch (Exception e) when (e is DllNotFoundException or InvalidOperationException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException($"--launcher mpi: cannot start MPI ({e.Message}). Install Open MPI (apt-get install openmpi-bin libopenmpi-dev) " +
                                                "or set MAMA_MPI_LIBRARY to its libmpi.so, and start with mpirun -np N.", e);
        }
        try
        {
            // Before any device is touched: this rank sees only its GPU.
            if (spec.Trim().ToLowerInvariant() is "cuda" or "auto") GpuSelection.Apply(comm.LocalRank, comm.LocalSize);
            int code = RunOne(config, outDir, resume, ParseDevice(spec), comm, stopAfter);
            comm.Dispose();
            return code;
        }
        catch (Exception e)
        {
            if (e is UsageException) Console.Error.WriteLine($"mama pretrain: rank {comm.Rank}/{comm.Size} failed: {e.Message}");
            else ReportRankFailure($"rank {comm.Rank}/{comm.Size}", e);
            Console.Error.Flush();
            // The other ranks wait in a collective for this one: end them all.
            comm.Abort(e is UsageException ? 2 : 1);
            return 1;
        }
    }

    /// <summary>
    /// A rank's failure as the single-process run reports it: one line when the user can act on it
    /// (<see cref="Cli.ActionableMessage"/>), else the exception's type and stack trace, which an
    /// engine defect needs.
    /// </summary>
    private static void ReportRankFailure(string rank, Exception e)
    {
        if (Cli.ActionableMessage(e) is { } message)
        {
            Console.Error.WriteLine($"mama pretrain: {rank} failed: {message}");
            return;
        }
        Console.Error.WriteLine($"mama pretrain: {rank} failed: {e.GetType().Name}: {e.Message}");
        Console.Error.WriteLine(e.StackTrace);
    }

    private static int RunOne(TrainingConfig? config, string outDir, bool resume, MaMA.Engine.Devices.Device device, ICommunicator? comm, long? stopAfter)
    {
        bool root = comm is null || comm.Rank == 0;
        var trainer = new Pretrainer(config, outDir, resume, device, communicator: comm) { StopAfterStep = stopAfter };
        if (root)
        {
            string ranks = comm is null ? "" : $" x {comm.Size} ranks";
            Console.WriteLine($"mama pretrain: {trainer.Config.Model} on {device.Name}{ranks} -> {trainer.Run.Root}");
        }
        PretrainResult result = trainer.Train();
        if (!root) return result.StopMessage is null ? 0 : 1;
        // A resume of a run that had already reached its last step runs none: no loss or rate to report.
        if (result.ImagesPerSecond == 0 && double.IsNaN(result.LastLoss))
            Console.WriteLine($"no step to run: the run had already reached step {result.Steps}; newest checkpoint: step {result.LastCheckpointStep}");
        else
            Console.WriteLine($"{result.Steps} steps in {result.Elapsed.TotalMinutes:F1} min, last loss {result.LastLoss:F4}, " +
                              $"{result.ImagesPerSecond:F1} pairs/s, {result.Skipped} skipped; newest checkpoint: step {result.LastCheckpointStep}");
        if (result.StopMessage is { } stop)
        {
            Console.Error.WriteLine("mama pretrain: " + stop);
            return 1;
        }
        Console.WriteLine(result.Steps < trainer.Config.Schedule.MaxSteps
            ? $"stopped after step {result.Steps} of {trainer.Config.Schedule.MaxSteps}; continue with: mama pretrain --out {trainer.Run.Root} --resume"
            : $"metrics: {trainer.Run.MetricsPath}; loss curves: {trainer.Run.LossPlotPath}; model: {trainer.Run.FinalModelDir}"
              + (Directory.Exists(trainer.Run.BestModelDir) ? $"; lowest validation loss: {trainer.Run.BestModelDir}" : ""));
        return 0;
    }

    private static MaMA.Engine.Devices.Device ParseDevice(string spec)
    {
        try
        {
            return MaMA.Engine.Devices.Device.Parse(spec);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static string ReadStoredDevice(string runDir)
    {
        string path = Path.Combine(runDir, "config.json");
        return File.Exists(path) ? TrainingConfigFile.Load(path).Device : "auto";
    }

    /// <summary>
    /// The config's model and data folders as absolute paths (relative ones are read from the current
    /// folder), so that RUN/config.json and the checkpoints' record of the model name the same folders
    /// when the run is resumed from elsewhere.
    /// </summary>
    private static TrainingConfig Absolute(TrainingConfig config)
    {
        bool isPath = config.Model is not ("tiny" or "paper") && (Directory.Exists(config.Model) || File.Exists(config.Model));
        return config with
        {
            Model = isPath ? Path.GetFullPath(config.Model) : config.Model,
            Data = config.Data is { } data ? Path.GetFullPath(data) : null,
        };
    }
}
