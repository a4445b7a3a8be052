namespace MaMA.Evaluation.Metrics;

/// <summary>
/// A ROC curve as sklearn's <c>roc_curve(y_true, y_score)</c> (sklearn &gt;= 1.3) returns it: points
/// (FPR[j], TPR[j]) for decisions "score &gt;= Thresholds[j]", thresholds decreasing.
/// <para>
/// Construction: sort the scores descending; each distinct score value is a threshold (tied scores
/// give one point, never a partial step); at threshold t, TP(t) = #positives with score &gt;= t and
/// FP(t) = #negatives with score &gt;= t. With <c>dropIntermediate</c> (sklearn's default, and what
/// the published <c>get_specificity_with_sensitivity</c> uses) a point is dropped when it lies on
/// the straight line through its neighbours (both second differences of FP and TP are 0; the first
/// and last points always stay). Then (0, 0) is prepended with threshold +infinity, and
/// FPR = FP / Q, TPR = TP / P. A missing class makes its rate NaN everywhere (sklearn warns and
/// does the same).
/// </para>
/// </summary>
public sealed class RocCurve
{
    private RocCurve(double[] fpr, double[] tpr, double[] thresholds)
    {
        Fpr = fpr;
        Tpr = tpr;
        Thresholds = thresholds;
    }

    /// <summary>False positive rate per point, [M], nondecreasing from 0 to 1.</summary>
    public double[] Fpr { get; }

    /// <summary>True positive rate (sensitivity) per point, [M], nondecreasing from 0 to 1.</summary>
    public double[] Tpr { get; }

    /// <summary>Decision threshold per point, [M], decreasing; [0] is +infinity (nothing predicted positive).</summary>
    public double[] Thresholds { get; }

    /// <summary>Trapezoidal area under the points; equals <see cref="Auc.Binary"/> (NaN if a class is missing).</summary>
    public double Area()
    {
        double area = 0;
        for (int j = 1; j < Fpr.Length; j++) area += (Fpr[j] - Fpr[j - 1]) * (Tpr[j] + Tpr[j - 1]) / 2;
        return area;
    }

    /// <summary>The ROC curve of <paramref name="scores"/> [N] for the samples marked <paramref name="positive"/> [N].</summary>
    public static RocCurve Compute(ReadOnlySpan<bool> positive, ReadOnlySpan<double> scores, bool dropIntermediate = true)
    {
        if (positive.Length != scores.Length) throw new ArgumentException($"{positive.Length} labels but {scores.Length} scores.");
        if (scores.Length == 0) throw new ArgumentException("a ROC curve needs at least one sample.");
        int n = scores.Length;
        double[] keys = new double[n];
        int[] order = new int[n];
        for (int i = 0; i < n; i++)
        {
            keys[i] = -scores[i]; // ascending on -score = descending on score
            order[i] = i;
        }
        Array.Sort(keys, order);

        // One point per distinct score: the last sorted position of each run of equal scores.
        var tps = new List<double>();
        var fps = new List<double>();
        var thresholds = new List<double>();
        int tp = 0;
        for (int j = 0; j < n; j++)
        {
            if (positive[order[j]]) tp++;
            if (j == n - 1 || keys[j + 1] != keys[j])
            {
                tps.Add(tp);
                fps.Add(j + 1 - tp);
                thresholds.Add(-keys[j]);
            }
        }

        var keep = new List<int>();
        for (int j = 0; j < tps.Count; j++)
        {
            bool ends = j == 0 || j == tps.Count - 1;
            if (!dropIntermediate || tps.Count <= 2 || ends
                || fps[j - 1] - 2 * fps[j] + fps[j + 1] != 0 || tps[j - 1] - 2 * tps[j] + tps[j + 1] != 0)
                keep.Add(j);
        }

        int m = keep.Count + 1;
        var fpr = new double[m];
        var tpr = new double[m];
        var thr = new double[m];
        thr[0] = double.PositiveInfinity;
        double totalPositives = tps[^1], totalNegatives = fps[^1];
        for (int j = 0; j < m; j++)
        {
            double f = j == 0 ? 0 : fps[keep[j - 1]];
            double t = j == 0 ? 0 : tps[keep[j - 1]];
            if (j > 0) thr[j] = thresholds[keep[j - 1]];
            fpr[j] = totalNegatives > 0 ? f / totalNegatives : double.NaN;
            tpr[j] = totalPositives > 0 ? t / totalPositives : double.NaN;
        }
        return new RocCurve(fpr, tpr, thr);
    }

    /// <summary>One-vs-rest curve of class <paramref name="c"/>: column c of the probabilities against "label == c".</summary>
    public static RocCurve OneVsRest(ScoreTable table, int c, bool dropIntermediate = true)
    {
        ArgumentNullException.ThrowIfNull(table);
        if ((uint)c >= (uint)table.ClassCount) throw new ArgumentOutOfRangeException(nameof(c), c, $"class must be in [0, {table.ClassCount - 1}].");
        var positive = new bool[table.Count];
        for (int i = 0; i < positive.Length; i++) positive[i] = table.Labels[i] == c;
        return Compute(positive, table.Column(c), dropIntermediate);
    }
}
