using System.Globalization;

namespace MaMA.Evaluation.Metrics;

/// <summary>
/// What every metric reads: class probabilities <c>Probabilities</c> [N, K] (one row per sample, one
/// column per class, K &gt;= 2) and true labels <c>Labels</c> [N] in [0, K). Built through
/// <see cref="FromProbabilities"/> or <see cref="FromLogits"/>, which reject what sklearn would
/// reject (NaN or infinite scores) and what is almost surely a mistake (probability rows that do not
/// sum to 1, which is what logits passed as probabilities look like). Errors name the sample
/// (0-based) and are <see cref="ArgumentException"/>s.
/// </summary>
public sealed class ScoreTable
{
    /// <summary>
    /// How far a probability row may sum from 1: |sum - 1| &lt;= 1e-3. Looser than sklearn's
    /// multi-class check (numpy allclose, about 1e-5) because CSV files round their numbers; the
    /// metrics themselves never depend on the sums (AUC ranks each column on its own, the decision
    /// is the argmax), so the check only catches logits passed as probabilities.
    /// </summary>
    public const double SumTolerance = 1e-3;

    private ScoreTable(double[,] probabilities, int[] labels)
    {
        Probabilities = probabilities;
        Labels = labels;
    }

    /// <summary>[N, K] class probabilities; row i is sample i.</summary>
    public double[,] Probabilities { get; }

    /// <summary>[N] true class of each sample, in [0, K).</summary>
    public int[] Labels { get; }

    public int Count => Labels.Length;

    public int ClassCount => Probabilities.GetLength(1);

    /// <summary>Probability of class <paramref name="c"/> for every sample: column c, [N].</summary>
    public double[] Column(int c)
    {
        var column = new double[Count];
        for (int i = 0; i < column.Length; i++) column[i] = Probabilities[i, c];
        return column;
    }

    /// <summary>The decision: argmax over classes per sample; ties go to the lowest class index, as numpy's argmax.</summary>
    public int[] Predictions()
    {
        var predicted = new int[Count];
        for (int i = 0; i < predicted.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < ClassCount; c++)
                if (Probabilities[i, c] > Probabilities[i, best]) best = c;
            predicted[i] = best;
        }
        return predicted;
    }

    /// <summary>Checks and keeps probabilities [N, K] (copied) and labels [N].</summary>
    public static ScoreTable FromProbabilities(double[,] probabilities, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        int[] checkedLabels = CheckShapes(probabilities, labels);
        int k = probabilities.GetLength(1);
        var row = new double[k];
        for (int i = 0; i < checkedLabels.Length; i++)
        {
            for (int c = 0; c < k; c++) row[c] = probabilities[i, c];
            if (ProblemWithProbabilities(row) is { } problem) throw new ArgumentException($"sample {i}: {problem}");
        }
        return new ScoreTable((double[,])probabilities.Clone(), checkedLabels);
    }

    /// <summary>Turns logits [N, K] into probabilities with a row softmax, then as <see cref="FromProbabilities"/>.</summary>
    public static ScoreTable FromLogits(double[,] logits, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        int[] checkedLabels = CheckShapes(logits, labels);
        int k = logits.GetLength(1);
        var row = new double[k];
        var probabilities = new double[checkedLabels.Length, k];
        for (int i = 0; i < checkedLabels.Length; i++)
        {
            for (int c = 0; c < k; c++) row[c] = logits[i, c];
            if (ProblemWithLogits(row) is { } problem) throw new ArgumentException($"sample {i}: {problem}");
            Softmax(row);
            for (int c = 0; c < k; c++) probabilities[i, c] = row[c];
        }
        return new ScoreTable(probabilities, checkedLabels);
    }

    /// <summary>
    /// Why <paramref name="row"/> is not a probability row (a non-finite value, a value outside [0, 1],
    /// or a sum further than <see cref="SumTolerance"/> from 1), or null when it is one.
    /// </summary>
    public static string? ProblemWithProbabilities(ReadOnlySpan<double> row)
    {
        if (ProblemWithLogits(row) is { } problem) return problem;
        double sum = 0;
        for (int c = 0; c < row.Length; c++)
        {
            if (row[c] < 0 || row[c] > 1)
                return $"score {row[c].ToString("G6", CultureInfo.InvariantCulture)} of class {c} is not a probability in [0, 1] (pass --logits if the scores are logits).";
            sum += row[c];
        }
        if (Math.Abs(sum - 1) > SumTolerance)
            return $"the class probabilities sum to {sum.ToString("G6", CultureInfo.InvariantCulture)}, not 1 (within {SumTolerance}); pass --logits if the scores are logits, or normalise the rows.";
        return null;
    }

    /// <summary>Why <paramref name="row"/> cannot be scores (NaN or infinite, which sklearn rejects too), or null.</summary>
    public static string? ProblemWithLogits(ReadOnlySpan<double> row)
    {
        for (int c = 0; c < row.Length; c++)
            if (!double.IsFinite(row[c])) return $"score of class {c} is {row[c]}; scores must be finite numbers.";
        return null;
    }

    /// <summary>In place: p_c = exp(z_c - max z) / sum_j exp(z_j - max z) (shifted by the max so exp never overflows).</summary>
    public static void Softmax(Span<double> row)
    {
        double max = double.NegativeInfinity;
        foreach (double z in row) max = Math.Max(max, z);
        double sum = 0;
        for (int c = 0; c < row.Length; c++)
        {
            row[c] = Math.Exp(row[c] - max);
            sum += row[c];
        }
        for (int c = 0; c < row.Length; c++) row[c] /= sum;
    }

    private static int[] CheckShapes(double[,] scores, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        int n = scores.GetLength(0), k = scores.GetLength(1);
        if (n == 0) throw new ArgumentException("there are no samples; the metrics need at least one.");
        if (k < 2) throw new ArgumentException($"the scores have {k} class column{(k == 1 ? "" : "s")}; the metrics need at least 2 (binary: [P(class 0), P(class 1)]).");
        if (labels.Count != n) throw new ArgumentException($"{n} score rows but {labels.Count} labels; they must match one to one.");
        var copy = new int[n];
        for (int i = 0; i < n; i++)
        {
            if ((uint)labels[i] >= (uint)k) throw new ArgumentException($"sample {i}: label {labels[i]} is outside [0, {k - 1}] (the scores have {k} classes).");
            copy[i] = labels[i];
        }
        return copy;
    }
}
