using MaMA.Evaluation.Metrics;

namespace MaMA.Evaluation.Tests.Metrics;

[TestFixture]
public sealed class ConfusionMatrixTests
{
    [Test]
    public void RowsAreTruthColumnsArePredictions()
    {
        // labels 0 0 1 1 2 2, predictions 0 1 1 0 2 2.
        var cm = ConfusionMatrix.FromPredictions([0, 0, 1, 1, 2, 2], [0, 1, 1, 0, 2, 2], 3);
        Assert.That(cm.ToRows(), Is.EqualTo(new[] { new long[] { 1, 1, 0 }, [1, 1, 0], [0, 0, 2] }));
        Assert.That(cm.Accuracy, Is.EqualTo(4.0 / 6).Within(1e-15));
        Assert.That(cm.PerClassAccuracy(), Is.EqualTo(new[] { 0.5, 0.5, 1.0 }));
        Assert.That(cm.BalancedAccuracy(), Is.EqualTo(2.0 / 3).Within(1e-15));
    }

    [Test]
    public void AbsentClassIsNaNAndLeftOutOfBalancedAccuracy()
    {
        // Class 2 has no samples but is predicted once: sklearn's balanced_accuracy_score drops its
        // NaN recall and averages classes 0 (2/3) and 1 (1/1).
        var cm = ConfusionMatrix.FromPredictions([0, 0, 0, 1], [0, 0, 2, 1], 3);
        double[] recall = cm.PerClassAccuracy();
        Assert.That(recall[0], Is.EqualTo(2.0 / 3).Within(1e-15));
        Assert.That(recall[2], Is.NaN);
        Assert.That(cm.BalancedAccuracy(), Is.EqualTo((2.0 / 3 + 1) / 2).Within(1e-15));
        Assert.That(cm[0, 2], Is.EqualTo(1));
    }

    [Test]
    public void OutOfRangeIsAClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => ConfusionMatrix.FromPredictions([0, 3], [0, 0], 3))!;
        Assert.That(e.Message, Does.Contain("sample 1"));
    }
}
