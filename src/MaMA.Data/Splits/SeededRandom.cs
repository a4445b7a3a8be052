namespace MaMA.Data.Splits;

/// <summary>
/// Deterministic random numbers that do not depend on the .NET version or on thread order:
/// a SplitMix64 stream (<see cref="Next"/>, <see cref="NextInt"/>, <see cref="Shuffle{T}"/>) and
/// counter-based draws (<see cref="Uniform"/>) that hash (seed, a, b, c) into [0, 1).
/// </summary>
public sealed class SeededRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="n"/>) without modulo bias.</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ulong bound = (ulong)n;
        ulong limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong r;
        do r = Next(); while (r >= limit);
        return (int)(r % bound);
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Counter-based draw in [0, 1): the same (seed, a, b, c) always gives the same number.</summary>
    public static double Uniform(ulong seed, ulong a, ulong b, ulong c)
    {
        ulong h = Mix(seed ^ 0x243F6A8885A308D3UL);
        h = Mix(h ^ (a * 0x9E3779B97F4A7C15UL + 0x13198A2E03707344UL));
        h = Mix(h ^ (b * 0xC2B2AE3D27D4EB4FUL + 0xA4093822299F31D0UL));
        h = Mix(h ^ (c * 0x165667B19E3779F9UL + 0x082EFA98EC4E6C89UL));
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>The SplitMix64 finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
