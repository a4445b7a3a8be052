using MaMA.Evaluation.Metrics;

namespace MaMA.Evaluation.Tests.Metrics;

[TestFixture]
public sealed class RocCurveTests
{
    [Test]
    public void PointsAndThresholdsAsSklearn()
    {
        // Descending: 0.95P 0.9P 0.8P 0.7N 0.6N 0.55P 0.4P 0.3N 0.2N 0.1N; (TP, FP) after each:
        // (1,0) (2,0) (3,0) (3,1) (3,2) (4,2) (5,2) (5,3) (5,4) (5,5). Collinear middles dropped:
        // (2,0), (3,1), (4,2), (5,3), (5,4). sklearn roc_curve: fpr [0 0 0 .4 .4 1],
        // tpr [0 .2 .6 .6 1 1], thresholds [inf .95 .8 .6 .4 .1].
        (double[,] p, int[] labels) = Examples.Binary();
        var table = ScoreTable.FromProbabilities(p, labels);
        RocCurve roc = RocCurve.OneVsRest(table, 1);
        Assert.That(roc.Fpr, Is.EqualTo(new[] { 0, 0, 0, 0.4, 0.4, 1 }).Within(1e-15));
        Assert.That(roc.Tpr, Is.EqualTo(new[] { 0, 0.2, 0.6, 0.6, 1, 1 }).Within(1e-15));
        Assert.That(roc.Thresholds, Is.EqualTo(new[] { double.PositiveInfinity, 0.95, 0.8, 0.6, 0.4, 0.1 }));

        RocCurve all = RocCurve.OneVsRest(table, 1, dropIntermediate: false);
        Assert.That(all.Fpr, Has.Length.EqualTo(11), "(0, 0) and one point per distinct score");
        Assert.That(all.Area(), Is.EqualTo(0.84).Within(1e-15));
    }

    [Test]
    public void TiedScoresMakeOnePoint()
    {
        // 0.9P, then 0.5 x3 (1 positive, 2 negatives) in one step: (0,0) (0,.5) (1,1).
        RocCurve roc = RocCurve.Compute([false, true, false, true], [0.5, 0.5, 0.5, 0.9]);
        Assert.That(roc.Fpr, Is.EqualTo(new[] { 0, 0, 1.0 }));
        Assert.That(roc.Tpr, Is.EqualTo(new[] { 0, 0.5, 1.0 }));
        Assert.That(roc.Area(), Is.EqualTo(0.75));
    }

    [Test]
    public void MissingClassGivesNaNRates()
    {
        RocCurve roc = RocCurve.Compute([true, true], [0.3, 0.7]);
        Assert.That(roc.Fpr, Is.All.NaN, "0 / 0, as sklearn (which warns)");
        Assert.That(roc.Tpr[^1], Is.EqualTo(1.0));
    }
}
