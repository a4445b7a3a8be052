using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Evaluation.Golden;

/// <summary>
/// One output compared with its golden value: the largest absolute difference, the relative error
/// ||out - golden||_2 / ||golden||_2 (the absolute norm ||out - golden||_2 when the golden is all
/// zeros), the tolerance and the verdict. A missing output, a shape or dtype change, or a
/// non-finite value where the golden has none fails, with a note saying which.
/// </summary>
public sealed record GoldenCheck(string Name, string Shape, double MaxAbs, double RelativeError, double Tolerance, bool Pass, string? Note = null)
{
    /// <summary>Compares <paramref name="actual"/> with <paramref name="golden"/> (both read as float64; integers compare exactly at tolerance 0).</summary>
    public static GoldenCheck Compare(GoldenTensor expected, Tensor? actual, Tensor golden)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(golden);
        string shape = Engine.Tensors.Shape.Format(golden.Shape);
        if (actual is null) return new GoldenCheck(expected.Name, shape, double.NaN, double.NaN, expected.Tolerance, false, "not computed (the forward no longer gives this output)");
        if (!Engine.Tensors.Shape.SameShape(actual.Shape, golden.Shape))
            return new GoldenCheck(expected.Name, shape, double.NaN, double.NaN, expected.Tolerance, false, $"shape {Engine.Tensors.Shape.Format(actual.Shape)}, golden {shape}");
        if (actual.DType.IsFloating() != golden.DType.IsFloating())
            return new GoldenCheck(expected.Name, shape, double.NaN, double.NaN, expected.Tolerance, false, $"dtype {actual.DType.SafetensorsName()}, golden {golden.DType.SafetensorsName()}");
        double[] a = Values(actual), g = Values(golden);
        double maxAbs = 0, diff2 = 0, ref2 = 0;
        bool nonFinite = false;
        for (int i = 0; i < a.Length; i++)
        {
            if (!double.IsFinite(a[i]) || !double.IsFinite(g[i]))
            {
                // NaN/Inf must sit where the golden has the same value.
                if (!(a[i].Equals(g[i]))) nonFinite = true;
                continue;
            }
            double d = Math.Abs(a[i] - g[i]);
            maxAbs = Math.Max(maxAbs, d);
            diff2 += d * d;
            ref2 += g[i] * g[i];
        }
        double rel = ref2 > 0 ? Math.Sqrt(diff2 / ref2) : Math.Sqrt(diff2);
        if (nonFinite) return new GoldenCheck(expected.Name, shape, double.NaN, double.NaN, expected.Tolerance, false, "non-finite values where the golden has none (or the reverse)");
        return new GoldenCheck(expected.Name, shape, maxAbs, rel, expected.Tolerance, rel <= expected.Tolerance);
    }

    private static double[] Values(Tensor t) => t.DType switch
    {
        DType.Int64 => Array.ConvertAll(t.ToArray<long>(), v => (double)v),
        DType.Int32 => Array.ConvertAll(t.ToArray<int>(), v => (double)v),
        DType.Bool => Array.ConvertAll(t.ToArray<bool>(), v => v ? 1.0 : 0.0),
        _ => Array.ConvertAll(t.ToFloatArray(), v => (double)v),
    };
}
