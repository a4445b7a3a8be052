using MaMA.Engine.Nn;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Gives each rank its own LoRA dropout masks. A <see cref="LoraLinear"/> draws its mask from the
/// Philox key (DropoutSeed, DropoutOffset) over the element index of its local input [n_r * T, in],
/// and every rank builds the model from the same seed and calls forward equally often, so without
/// this rank 1 would drop exactly rank 0's mask on different samples (correlated noise across the
/// global batch). Rank r > 0 re-keys every stream to SplitMix64(DropoutSeed + r * golden ratio);
/// rank 0 keeps the model's keys, so a one-process run is rank 0 of any run. The offsets (the stream
/// positions that checkpoints save) stay equal on all ranks, so a checkpoint resumes on any number
/// of ranks. Not reproduced: the single-process masks of the same global rows (that would need the
/// dropout kernel to take a row base); runs with LoRA dropout on are therefore equal to one process
/// in distribution, not bit for bit.
/// </summary>
public static class RankDropoutStreams
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>Re-keys every LoRA dropout stream of <paramref name="model"/> for <paramref name="rank"/> (rank 0: unchanged). Call once, after building.</summary>
    public static void Separate(Module model, int rank)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        if (rank == 0) return;
        foreach ((_, Module m) in model.NamedModules())
            if (m is LoraLinear lora) lora.DropoutSeed = KeyFor(lora.DropoutSeed, rank);
    }

    /// <summary>The key rank <paramref name="rank"/> uses for a stream whose rank-0 key is <paramref name="seed"/>.</summary>
    public static ulong KeyFor(ulong seed, int rank) => rank == 0 ? seed : SplitMix64(seed + (ulong)rank * Golden);

    private static ulong SplitMix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
