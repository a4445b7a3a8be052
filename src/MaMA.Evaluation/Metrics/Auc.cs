namespace MaMA.Evaluation.Metrics;

/// <summary>
/// Area under the ROC curve, as sklearn's <c>roc_auc_score</c> computes it.
/// <para>
/// Binary: the Mann-Whitney statistic. Rank all N scores ascending (1..N), tied scores sharing the
/// average of their ranks; with P positives, Q negatives and R+ the sum of the positives' ranks,
/// AUC = (R+ - P(P+1)/2) / (P Q), the probability that a random positive scores above a random
/// negative, ties counting one half. This equals the trapezoidal area under sklearn's
/// <c>roc_curve</c> (tied scores form one diagonal step), so it matches sklearn exactly.
/// </para>
/// <para>
/// Undefined when a class is missing (P = 0 or Q = 0): the result is NaN, as sklearn &gt;= 1.6 returns
/// (older versions raised "Only one class present in y_true").
/// </para>
/// </summary>
public static class Auc
{
    /// <summary>AUC of <paramref name="scores"/> [N] for the samples marked <paramref name="positive"/> [N]; NaN when either class is absent.</summary>
    public static double Binary(ReadOnlySpan<bool> positive, ReadOnlySpan<double> scores)
    {
        if (positive.Length != scores.Length) throw new ArgumentException($"{positive.Length} labels but {scores.Length} scores.");
        int n = scores.Length;
        int p = 0;
        foreach (bool b in positive) if (b) p++;
        int q = n - p;
        if (p == 0 || q == 0) return double.NaN;

        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        double[] keys = scores.ToArray();
        Array.Sort(keys, order);

        // Walk runs of equal scores; a run at sorted positions [start, end) has ranks start+1..end,
        // average (start + 1 + end) / 2.
        double positiveRankSum = 0;
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start]) end++;
            double rank = (start + 1 + end) / 2.0;
            for (int j = start; j < end; j++)
                if (positive[order[j]]) positiveRankSum += rank;
            start = end;
        }
        return (positiveRankSum - p * (p + 1.0) / 2.0) / ((double)p * q);
    }

    /// <summary>
    /// One-vs-rest AUC per class, [K]: class c's probabilities (column c) against "label == c".
    /// A class with no samples (or, degenerate, every sample) gets NaN.
    /// </summary>
    public static double[] OneVsRest(ScoreTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var perClass = new double[table.ClassCount];
        var positive = new bool[table.Count];
        for (int c = 0; c < perClass.Length; c++)
        {
            for (int i = 0; i < positive.Length; i++) positive[i] = table.Labels[i] == c;
            perClass[c] = Binary(positive, table.Column(c));
        }
        return perClass;
    }

    /// <summary>
    /// The paper's AUC: binary (K = 2) is the AUC of the class-1 probability, as sklearn's
    /// <c>roc_auc_score(y, p[:, 1])</c>; multi-class is the unweighted mean of <see cref="OneVsRest"/>,
    /// as <c>roc_auc_score(y, p, multi_class="ovr")</c> (average="macro").
    /// <para>
    /// NaN when any class has no samples. sklearn agrees in substance: without <c>labels=</c> it raises
    /// "Number of classes in y_true not equal to the number of columns in 'y_score'", with
    /// <c>labels=range(K)</c> the missing class's AUC is NaN and so is the mean. Absent classes are
    /// not skipped, so an AUC is always over all K classes and comparable across runs.
    /// </para>
    /// </summary>
    public static double Compute(ScoreTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.ClassCount == 2)
        {
            var positive = new bool[table.Count];
            for (int i = 0; i < positive.Length; i++) positive[i] = table.Labels[i] == 1;
            return Binary(positive, table.Column(1));
        }
        double sum = 0;
        foreach (double auc in OneVsRest(table)) sum += auc;
        return sum / table.ClassCount;
    }
}
