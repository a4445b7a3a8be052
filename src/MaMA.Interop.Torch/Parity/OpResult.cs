namespace MaMA.Interop.Torch.Parity;

/// <summary>An op's output and the gradients of its differentiable inputs, as host arrays.</summary>
public sealed class OpResult
{
    public required int[] OutputShape { get; init; }

    public required float[] Output { get; init; }

    /// <summary>Input name -> gradient.</summary>
    public required IReadOnlyDictionary<string, float[]> Grads { get; init; }

    /// <summary>
    /// Relative L2 error ||actual - expected|| / max(||expected||, <paramref name="floor"/>)
    /// (absolute when expected is ~0 and there is no floor).
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double floor = 0)
    {
        if (actual.Length != expected.Length) return double.PositiveInfinity;
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            if (double.IsNaN(d) && !(float.IsNaN(actual[i]) && float.IsNaN(expected[i]))) return double.PositiveInfinity;
            if (!double.IsNaN(d)) diff += d * d;
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Max(Math.Sqrt(norm), floor), 1e-12 + (norm == 0 ? 1 : 0));
    }
}
