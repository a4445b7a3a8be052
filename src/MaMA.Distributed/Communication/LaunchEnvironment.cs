namespace MaMA.Distributed.Communication;

/// <summary>
/// What the launcher tells a process about its place, read from the environment before (or
/// without) MPI: Open MPI's mpirun sets OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE}; Slurm's
/// srun sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_NTASKS_PER_NODE; PMIx launchers set
/// PMIX_RANK. Null members are unknown.
/// </summary>
public sealed record LaunchEnvironment(int? Rank, int? Size, int? LocalRank, int? LocalSize)
{
    /// <summary>True when a launcher started several processes (or one under mpirun).</summary>
    public bool UnderLauncher => Rank is not null;

    public static LaunchEnvironment Read(Func<string, string?>? get = null)
    {
        get ??= Environment.GetEnvironmentVariable;
        int? Int(params string[] names)
        {
            foreach (string n in names)
                if (get(n) is { Length: > 0 } v && int.TryParse(v.Split('(')[0], out int i)) return i;
            return null;
        }
        return new LaunchEnvironment(
            Int("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"),
            Int("OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"),
            Int("OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"),
            Int("OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"));
    }
}
