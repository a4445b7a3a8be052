namespace MaMA.Evaluation.Metrics;

/// <summary>
/// The paper's binary-only metrics (RSNA cancer: class 1 = positive). At the argmax decision, from
/// the confusion matrix (TN = C[0,0], FP = C[0,1], FN = C[1,0], TP = C[1,1]):
/// sensitivity = TP / (TP + FN), specificity = TN / (TN + FP), PPV = TP / (TP + FP),
/// NPV = TN / (TN + FN), F1 = 2 TP / (2 TP + FP + FN). A zero denominator gives NaN (undefined,
/// reported as null). From the class-1 probability: <see cref="SpecificityAtSensitivity"/> at 0.8 and
/// <see cref="ProbabilisticF1"/>.
/// </summary>
public sealed record BinaryMetrics(
    double Sensitivity,
    double Specificity,
    double Ppv,
    double Npv,
    double F1,
    double SpecificityAtSensitivity08,
    double Pf1)
{
    /// <summary>Computes all binary metrics of a two-class table (its argmax decision and class-1 probability).</summary>
    public static BinaryMetrics Compute(ScoreTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.ClassCount != 2) throw new ArgumentException($"binary metrics need 2 classes, the scores have {table.ClassCount}.");
        ConfusionMatrix cm = ConfusionMatrix.FromPredictions(table.Labels, table.Predictions(), 2);
        double tn = cm[0, 0], fp = cm[0, 1], fn = cm[1, 0], tp = cm[1, 1];
        var positive = new bool[table.Count];
        for (int i = 0; i < positive.Length; i++) positive[i] = table.Labels[i] == 1;
        double[] p1 = table.Column(1);
        return new BinaryMetrics(
            Ratio(tp, tp + fn),
            Ratio(tn, tn + fp),
            Ratio(tp, tp + fp),
            Ratio(tn, tn + fn),
            Ratio(2 * tp, 2 * tp + fp + fn),
            SpecificityAtSensitivity.Compute(positive, p1, SpecificityAtSensitivity.PaperTarget),
            ProbabilisticF1.Compute(positive, p1));
    }

    private static double Ratio(double numerator, double denominator) => denominator == 0 ? double.NaN : numerator / denominator;
}
