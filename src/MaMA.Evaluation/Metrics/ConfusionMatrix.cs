namespace MaMA.Evaluation.Metrics;

/// <summary>
/// Counts [K, K] of (true class, predicted class): row = truth, column = prediction, as sklearn's
/// <c>confusion_matrix</c> and torchmetrics' <c>ConfusionMatrix</c> lay it out. Always K x K over all
/// classes of the scores, so a class with no samples is an all-zero row.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[,] _counts;

    private ConfusionMatrix(long[,] counts) => _counts = counts;

    public int ClassCount => _counts.GetLength(0);

    /// <summary>Samples of true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int truth, int predicted] => _counts[truth, predicted];

    /// <summary>All samples: N.</summary>
    public long Total
    {
        get
        {
            long total = 0;
            foreach (long v in _counts) total += v;
            return total;
        }
    }

    /// <summary>Samples whose true class is <paramref name="truth"/> (the row sum).</summary>
    public long Support(int truth)
    {
        long sum = 0;
        for (int c = 0; c < ClassCount; c++) sum += _counts[truth, c];
        return sum;
    }

    /// <summary>Correct decisions: the trace.</summary>
    public long Correct
    {
        get
        {
            long sum = 0;
            for (int c = 0; c < ClassCount; c++) sum += _counts[c, c];
            return sum;
        }
    }

    /// <summary>Accuracy = trace / N.</summary>
    public double Accuracy => (double)Correct / Total;

    /// <summary>
    /// Per-class accuracy (recall) [K]: C[c, c] / sum_j C[c, j], the published <c>cls_hit / cls_cnt</c>;
    /// NaN for a class with no samples (0 / 0).
    /// </summary>
    public double[] PerClassAccuracy()
    {
        var recall = new double[ClassCount];
        for (int c = 0; c < recall.Length; c++)
        {
            long support = Support(c);
            recall[c] = support == 0 ? double.NaN : (double)_counts[c, c] / support;
        }
        return recall;
    }

    /// <summary>
    /// Balanced accuracy = mean per-class recall over the classes that have samples, as sklearn's
    /// <c>balanced_accuracy_score</c> (which drops the NaN recall of classes absent from y_true).
    /// </summary>
    public double BalancedAccuracy()
    {
        double sum = 0;
        int present = 0;
        foreach (double r in PerClassAccuracy())
        {
            if (double.IsNaN(r)) continue;
            sum += r;
            present++;
        }
        return present == 0 ? double.NaN : sum / present;
    }

    /// <summary>The rows as jagged arrays (for JSON and plots).</summary>
    public long[][] ToRows()
    {
        var rows = new long[ClassCount][];
        for (int t = 0; t < ClassCount; t++)
        {
            rows[t] = new long[ClassCount];
            for (int p = 0; p < ClassCount; p++) rows[t][p] = _counts[t, p];
        }
        return rows;
    }

    /// <summary>Counts the pairs (labels[i], predictions[i]), both in [0, <paramref name="classCount"/>).</summary>
    public static ConfusionMatrix FromPredictions(ReadOnlySpan<int> labels, ReadOnlySpan<int> predictions, int classCount)
    {
        if (classCount < 1) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "need at least one class.");
        if (labels.Length != predictions.Length) throw new ArgumentException($"{labels.Length} labels but {predictions.Length} predictions.");
        var counts = new long[classCount, classCount];
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount || (uint)predictions[i] >= (uint)classCount)
                throw new ArgumentException($"sample {i}: label {labels[i]} or prediction {predictions[i]} is outside [0, {classCount - 1}].");
            counts[labels[i], predictions[i]]++;
        }
        return new ConfusionMatrix(counts);
    }
}
