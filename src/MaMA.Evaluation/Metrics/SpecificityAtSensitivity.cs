namespace MaMA.Evaluation.Metrics;

/// <summary>
/// Specificity at a target sensitivity, as the published <c>get_specificity_with_sensitivity</c>:
/// on sklearn's default ROC curve (<see cref="RocCurve.Compute"/> with intermediate collinear points
/// dropped, (0, 0) prepended) take the first point j minimising |TPR[j] - target| and return
/// 1 - FPR[j]. The chosen point's sensitivity is the attainable one nearest the target, which may
/// lie above or below it. NaN when either class is missing (the curve is undefined).
/// </summary>
public static class SpecificityAtSensitivity
{
    /// <summary>The paper's operating point: 80% sensitivity.</summary>
    public const double PaperTarget = 0.8;

    public static double Compute(ReadOnlySpan<bool> positive, ReadOnlySpan<double> scores, double targetSensitivity = PaperTarget)
    {
        if (!(targetSensitivity >= 0 && targetSensitivity <= 1))
            throw new ArgumentOutOfRangeException(nameof(targetSensitivity), targetSensitivity, "a sensitivity is in [0, 1].");
        RocCurve roc = RocCurve.Compute(positive, scores);
        if (double.IsNaN(roc.Tpr[^1]) || double.IsNaN(roc.Fpr[^1])) return double.NaN;
        int best = 0;
        for (int j = 1; j < roc.Tpr.Length; j++)
            if (Math.Abs(roc.Tpr[j] - targetSensitivity) < Math.Abs(roc.Tpr[best] - targetSensitivity)) best = j;
        return 1 - roc.Fpr[best];
    }
}
