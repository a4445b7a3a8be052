namespace MaMA.Evaluation.Metrics;

/// <summary>
/// All of SPEC section 7's metrics for one <see cref="ScoreTable"/>, as the published
/// <c>on_test_epoch_end</c> computes them: the decision is the argmax of the scores, accuracy and
/// balanced accuracy come from it (<see cref="ConfusionMatrix"/>), AUC from the probabilities
/// (<see cref="Metrics.Auc"/>), and two-class tables add <see cref="BinaryMetrics"/> (class 1 =
/// positive). Nothing here throws for degenerate labels: what is undefined is NaN in the report
/// (null in JSON), with a note saying why.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Metrics of probabilities [N, K] and labels [N] (checked as <see cref="ScoreTable.FromProbabilities"/>).</summary>
    public static MetricsReport Compute(double[,] probabilities, IReadOnlyList<int> labels) =>
        Compute(ScoreTable.FromProbabilities(probabilities, labels));

    public static MetricsReport Compute(ScoreTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int k = table.ClassCount;
        ConfusionMatrix cm = ConfusionMatrix.FromPredictions(table.Labels, table.Predictions(), k);
        double[] perClassAuc = Auc.OneVsRest(table);
        double auc = Auc.Compute(table);
        BinaryMetrics? binary = k == 2 ? BinaryMetrics.Compute(table) : null;

        var notes = new List<string>();
        int[] absent = Enumerable.Range(0, k).Where(c => cm.Support(c) == 0).ToArray();
        if (absent.Length > 0)
        {
            string which = absent.Length == 1 ? $"class {absent[0]} has" : $"classes {string.Join(", ", absent)} have";
            notes.Add(k == 2
                ? $"{which} no samples: auc and specificity_at_sensitivity_0_8 are undefined (null; sklearn's roc_auc_score returns NaN), "
                  + "so are the rates whose denominator is that class; balanced_accuracy is the recall of the class present."
                : $"{which} no samples: per_class_accuracy is null there, balanced_accuracy averages the {k - absent.Length} classes present "
                  + "(as sklearn's balanced_accuracy_score), and the one-vs-rest macro auc is undefined (null; sklearn raises "
                  + "'Number of classes in y_true not equal to the number of columns in y_score').");
        }
        return new MetricsReport(table.Count, k, cm.Accuracy, cm.BalancedAccuracy(), auc, perClassAuc, cm, cm.PerClassAccuracy(), binary, notes);
    }
}
