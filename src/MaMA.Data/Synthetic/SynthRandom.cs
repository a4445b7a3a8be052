namespace MaMA.Data.Synthetic;

/// <summary>
/// The generator's own random source (SplitMix64): fully specified here, so a seed gives the same
/// stream on every runtime and platform (unlike an unspecified library generator). Every image gets
/// its own stream derived from the run seed and the image's identity, so images can be rendered in
/// parallel and still come out byte-identical.
/// </summary>
internal sealed class SynthRandom
{
    private ulong _state;

    public SynthRandom(ulong seed) => _state = seed;

    /// <summary>A stream keyed by the run seed and a path of integers (study, side, view, ...).</summary>
    public static SynthRandom Derive(int seed, params long[] keys) => new(Hash(seed, keys));

    public static ulong Hash(int seed, params long[] keys)
    {
        ulong h = Mix(0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed);
        foreach (long k in keys) h = Mix(h ^ Mix((ulong)k + 0x632BE59BD9B4E019UL));
        return h;
    }

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextU64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextU64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int Next(int n) => n <= 1 ? 0 : (int)(NextU64() % (ulong)n);

    /// <summary>Uniform integer in [lo, hi] (both inclusive).</summary>
    public int NextInclusive(int lo, int hi) => lo + Next(hi - lo + 1);

    public double Range(double lo, double hi) => lo + (hi - lo) * NextDouble();

    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Standard normal (Box-Muller).</summary>
    public double Normal()
    {
        double u = 1.0 - NextDouble();
        double v = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }

    /// <summary>Approximately standard normal (sum of four uniforms, scaled): cheap per-pixel noise.</summary>
    public double NormalFast()
    {
        ulong r = NextU64();
        double sum = (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
        return (sum / 65535.0 - 2.0) * 1.7320508075688772;
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Picks an index with probability proportional to its weight.</summary>
    public int PickWeighted(IReadOnlyList<double> weights)
    {
        double total = 0;
        foreach (double w in weights) total += w;
        double r = NextDouble() * total;
        for (int i = 0; i < weights.Count; i++)
        {
            r -= weights[i];
            if (r < 0) return i;
        }
        return weights.Count - 1;
    }

    public void Shuffle<T>(IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

/// <summary>Lattice value noise and fractal sums of it, keyed by a seed (no state; thread-safe).</summary>
internal readonly struct ValueNoise(uint seed)
{
    private readonly uint _seed = seed;

    private float Lattice(int x, int y)
    {
        uint h = _seed;
        h ^= (uint)x * 0x27D4EB2Du;
        h = (h ^ (h >> 15)) * 0x2C1B3C6Du;
        h ^= (uint)y * 0x165667B1u;
        h = (h ^ (h >> 12)) * 0x297A2D39u;
        h ^= h >> 15;
        return (h >> 8) * (1f / (1 << 24));
    }

    /// <summary>Smoothly interpolated noise in [0, 1) at lattice coordinates (x, y).</summary>
    public float At(float x, float y)
    {
        int ix = (int)MathF.Floor(x), iy = (int)MathF.Floor(y);
        float fx = x - ix, fy = y - iy;
        float sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
        float a = Lattice(ix, iy), b = Lattice(ix + 1, iy), c = Lattice(ix, iy + 1), d = Lattice(ix + 1, iy + 1);
        float top = a + (b - a) * sx, bottom = c + (d - c) * sx;
        return top + (bottom - top) * sy;
    }

    /// <summary>
    /// Fractal sum of <paramref name="octaves"/> octaves (frequency x2, amplitude x<paramref name="gain"/>), in [0, 1).
    /// Each octave is rotated and shifted so the lattice's axes never show.
    /// </summary>
    public float Fbm(float x, float y, int octaves, float gain = 0.5f)
    {
        const float Cos = 0.8253356f, Sin = 0.5646425f; // rotation by 0.6 rad per octave
        float sum = 0, amp = 1, norm = 0;
        for (int o = 0; o < octaves; o++)
        {
            sum += amp * At(x + o * 17.31f, y - o * 9.17f);
            norm += amp;
            amp *= gain;
            float nx = 2 * (Cos * x - Sin * y), ny = 2 * (Sin * x + Cos * y);
            x = nx;
            y = ny;
        }
        return sum / norm;
    }

    /// <summary><see cref="Fbm"/> at a point displaced by two other noise fields (curly, cloud-like structure).</summary>
    public float Warped(float x, float y, int octaves, float strength, float gain = 0.5f)
    {
        float wx = Fbm(x + 5.2f, y + 1.3f, 2) - 0.5f, wy = Fbm(x - 3.7f, y + 8.1f, 2) - 0.5f;
        return Fbm(x + strength * wx, y + strength * wy, octaves, gain);
    }
}
