using MaMA.Evaluation.Metrics;

namespace MaMA.Evaluation.Tests.Metrics;

[TestFixture]
public sealed class BinaryMetricsTests
{
    [Test]
    public void RatesAtTheArgmaxDecision()
    {
        // TN 3 (0.1 0.2 0.3), FP 2 (0.6 0.7), FN 1 (0.4), TP 4 (0.55 0.8 0.9 0.95).
        (double[,] p, int[] labels) = Examples.Binary();
        BinaryMetrics m = BinaryMetrics.Compute(ScoreTable.FromProbabilities(p, labels));
        Assert.That(m.Sensitivity, Is.EqualTo(4.0 / 5).Within(1e-15));
        Assert.That(m.Specificity, Is.EqualTo(3.0 / 5).Within(1e-15));
        Assert.That(m.Ppv, Is.EqualTo(4.0 / 6).Within(1e-15));
        Assert.That(m.Npv, Is.EqualTo(3.0 / 4).Within(1e-15));
        Assert.That(m.F1, Is.EqualTo(8.0 / 11).Within(1e-15));
        // ROC tpr [0 .2 .6 .6 1 1]: |0.6 - 0.8| = 0.20000000000000007 > |1 - 0.8| = 0.19999999999999996 in
        // float64, so numpy's argmin (and this) picks tpr 1 at fpr 0.4: specificity 0.6.
        Assert.That(m.SpecificityAtSensitivity08, Is.EqualTo(0.6).Within(1e-15));
        // ctp = 0.4 + 0.55 + 0.8 + 0.9 + 0.95 = 3.6, cfp = 0.1 + 0.2 + 0.3 + 0.6 + 0.7 = 1.9;
        // precision 3.6 / 5.5, recall 3.6 / 5; F1 = 2 ctp / (P + ctp + cfp) = 7.2 / 10.5 = 24 / 35.
        Assert.That(m.Pf1, Is.EqualTo(24.0 / 35).Within(1e-12));
    }

    [Test]
    public void SpecificityAtExactlyEightyPercentSensitivity()
    {
        // Descending 0.9P 0.8P 0.7P 0.6P 0.5N 0.4N 0.3N 0.2P 0.1N 0.05N; kept points
        // tpr [0 .2 .8 .8 1 1], fpr [0 0 0 .6 .6 1]: the first tpr 0.8 has fpr 0 -> specificity 1.
        double[] scores = [0.9, 0.8, 0.7, 0.6, 0.2, 0.5, 0.4, 0.3, 0.1, 0.05];
        bool[] positive = [true, true, true, true, true, false, false, false, false, false];
        Assert.That(SpecificityAtSensitivity.Compute(positive, scores), Is.EqualTo(1.0));
        // At 100% sensitivity the threshold must drop to 0.2, passing 3 negatives: 1 - 0.6.
        Assert.That(SpecificityAtSensitivity.Compute(positive, scores, 1.0), Is.EqualTo(0.4).Within(1e-15));
    }

    [Test]
    public void ProbabilisticF1ClipsAndHandlesDegenerateInputs()
    {
        // Clipped to [1, 0, 1]: ctp = 1 + 1 = 2 over 2 positives, cfp = 0 -> precision 1, recall 1.
        Assert.That(ProbabilisticF1.Compute([true, false, true], [1.7, -0.3, 1.0]), Is.EqualTo(1.0));
        // ctp = 0.5, cfp = 0.5: precision 0.5, recall 0.5 -> 0.5.
        Assert.That(ProbabilisticF1.Compute([true, false], [0.5, 0.5]), Is.EqualTo(0.5).Within(1e-15));
        Assert.That(ProbabilisticF1.Compute([false, false], [0.5, 0.5]), Is.NaN, "no positives: recall undefined");
        Assert.That(ProbabilisticF1.Compute([true, false], [0.0, 0.0]), Is.EqualTo(0), "all zero: as the published code");
        // beta = 2 weighs recall: precision 0.5, recall 1 -> 5 * 0.5 / (4 * 0.5 + 1) = 5/6.
        Assert.That(ProbabilisticF1.Compute([true, false], [1.0, 1.0], beta: 2), Is.EqualTo(5.0 / 6).Within(1e-15));
    }

    [Test]
    public void OneClassOnlyGivesUndefinedRatesNotACrash()
    {
        double[,] p = Examples.TwoColumns([0.2, 0.7, 0.9]);
        BinaryMetrics m = BinaryMetrics.Compute(ScoreTable.FromProbabilities(p, [1, 1, 1]));
        Assert.That(m.Sensitivity, Is.EqualTo(2.0 / 3).Within(1e-15));
        Assert.That(m.Specificity, Is.NaN);
        Assert.That(m.Npv, Is.EqualTo(0), "TN 0 / (TN 0 + FN 1)");
        Assert.That(m.SpecificityAtSensitivity08, Is.NaN);
        Assert.That(m.Pf1, Is.EqualTo(2 * 1.8 / (3 + 1.8)).Within(1e-12));
    }
}
