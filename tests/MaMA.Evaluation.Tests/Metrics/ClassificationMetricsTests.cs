using System.Text.Json;
using MaMA.Evaluation.Metrics;

namespace MaMA.Evaluation.Tests.Metrics;

[TestFixture]
public sealed class ClassificationMetricsTests
{
    [Test]
    public void BinaryReportJsonHasEveryKeyInOrder()
    {
        (double[,] p, int[] labels) = Examples.Binary();
        MetricsReport report = ClassificationMetrics.Compute(p, labels);
        using JsonDocument json = JsonDocument.Parse(report.ToJson());
        JsonElement root = json.RootElement;
        Assert.That(root.EnumerateObject().Select(o => o.Name), Is.EqualTo(MetricsReport.JsonKeys));
        Assert.That(MetricsReport.JsonKeys, Is.EqualTo(new[]
        {
            "accuracy", "balanced_accuracy", "auc", "confusion_matrix", "per_class_accuracy", "sensitivity",
            "specificity", "ppv", "npv", "f1", "specificity_at_sensitivity_0_8", "pf1",
        }));
        Assert.That(root.GetProperty("accuracy").GetDouble(), Is.EqualTo(0.7).Within(1e-15));
        Assert.That(root.GetProperty("balanced_accuracy").GetDouble(), Is.EqualTo(0.7).Within(1e-15));
        Assert.That(root.GetProperty("auc").GetDouble(), Is.EqualTo(0.84).Within(1e-15));
        Assert.That(root.GetProperty("confusion_matrix").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()),
                    Is.EqualTo(new[] { new long[] { 3, 2 }, [1, 4] }));
        Assert.That(root.GetProperty("per_class_accuracy").EnumerateArray().Select(v => v.GetDouble()), Is.EqualTo(new[] { 0.6, 0.8 }).Within(1e-15));
        Assert.That(root.GetProperty("sensitivity").GetDouble(), Is.EqualTo(0.8).Within(1e-15));
        Assert.That(root.GetProperty("specificity").GetDouble(), Is.EqualTo(0.6).Within(1e-15));
        Assert.That(root.GetProperty("ppv").GetDouble(), Is.EqualTo(4.0 / 6).Within(1e-15));
        Assert.That(root.GetProperty("npv").GetDouble(), Is.EqualTo(0.75).Within(1e-15));
        Assert.That(root.GetProperty("f1").GetDouble(), Is.EqualTo(8.0 / 11).Within(1e-15));
        Assert.That(root.GetProperty("specificity_at_sensitivity_0_8").GetDouble(), Is.EqualTo(0.6).Within(1e-15));
        Assert.That(root.GetProperty("pf1").GetDouble(), Is.EqualTo(24.0 / 35).Within(1e-12));
        Assert.That(report.Notes, Is.Empty);
    }

    [Test]
    public void MultiClassReportHasNullBinaryKeys()
    {
        (double[,] p, int[] labels) = Examples.ThreeClass();
        MetricsReport report = ClassificationMetrics.Compute(p, labels);
        JsonElement root = JsonDocument.Parse(report.ToJson()).RootElement;
        Assert.That(root.EnumerateObject().Select(o => o.Name), Is.EqualTo(MetricsReport.JsonKeys));
        Assert.That(root.GetProperty("accuracy").GetDouble(), Is.EqualTo(4.0 / 6).Within(1e-15));
        Assert.That(root.GetProperty("balanced_accuracy").GetDouble(), Is.EqualTo(2.0 / 3).Within(1e-15));
        Assert.That(root.GetProperty("auc").GetDouble(), Is.EqualTo(2.5625 / 3).Within(1e-15));
        foreach (string key in MetricsReport.JsonKeys.Skip(5))
            Assert.That(root.GetProperty(key).ValueKind, Is.EqualTo(JsonValueKind.Null), key);
        Assert.That(report.Binary, Is.Null);
    }

    [Test]
    public void AbsentClassGivesNullsAndANote()
    {
        // Four classes, class 3 never occurs: per_class_accuracy[3] and auc are null.
        double[,] p = { { 0.7, 0.1, 0.1, 0.1 }, { 0.1, 0.7, 0.1, 0.1 }, { 0.1, 0.1, 0.7, 0.1 }, { 0.1, 0.1, 0.1, 0.7 } };
        MetricsReport report = ClassificationMetrics.Compute(p, [0, 1, 2, 2]);
        JsonElement root = JsonDocument.Parse(report.ToJson()).RootElement;
        Assert.That(root.GetProperty("auc").ValueKind, Is.EqualTo(JsonValueKind.Null));
        JsonElement[] perClass = root.GetProperty("per_class_accuracy").EnumerateArray().ToArray();
        Assert.That(perClass[3].ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(perClass[2].GetDouble(), Is.EqualTo(0.5));
        Assert.That(root.GetProperty("balanced_accuracy").GetDouble(), Is.EqualTo(2.5 / 3).Within(1e-15));
        Assert.That(report.Notes.Single(), Does.Contain("class 3 has no samples"));
        Assert.That(report.Lines(), Has.Some.Contains("auc").And.Contains("n/a"));
    }

    [Test]
    public void AllOneClassBinaryIsUndefinedNotACrash()
    {
        MetricsReport report = ClassificationMetrics.Compute(Examples.TwoColumns([0.1, 0.4, 0.8]), [0, 0, 0]);
        JsonElement root = JsonDocument.Parse(report.ToJson()).RootElement;
        Assert.That(root.GetProperty("accuracy").GetDouble(), Is.EqualTo(2.0 / 3).Within(1e-15));
        Assert.That(root.GetProperty("balanced_accuracy").GetDouble(), Is.EqualTo(2.0 / 3).Within(1e-15));
        foreach (string key in new[] { "auc", "sensitivity", "specificity_at_sensitivity_0_8", "pf1" })
            Assert.That(root.GetProperty(key).ValueKind, Is.EqualTo(JsonValueKind.Null), key);
        Assert.That(root.GetProperty("specificity").GetDouble(), Is.EqualTo(2.0 / 3).Within(1e-15));
        Assert.That(report.Notes, Has.Count.EqualTo(1));
    }

    [Test]
    public void BadScoresAreClearErrors()
    {
        var nan = Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new[,] { { 0.5, 0.5 }, { double.NaN, 0.5 } }, [0, 1]))!;
        Assert.That(nan.Message, Does.Contain("sample 1").And.Contain("finite"));
        var sum = Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new[,] { { 2.0, -1.0 } }, [0]))!;
        Assert.That(sum.Message, Does.Contain("--logits"));
        var rows = Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new[,] { { 0.6, 0.3 }, { 0.5, 0.5 } }, [0, 1]))!;
        Assert.That(rows.Message, Does.Contain("sample 0").And.Contain("sum to 0.9"));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new[,] { { 0.5, 0.5 } }, [2]));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new[,] { { 0.5, 0.5 } }, [0, 1]));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new double[0, 2], []));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(new[,] { { 1.0 } }, [0]));
    }

    [Test]
    public void LogitsAreSoftmaxed()
    {
        // softmax([0, ln 3]) = [1/4, 3/4]; large logits do not overflow.
        var table = ScoreTable.FromLogits(new[,] { { 0, Math.Log(3) }, { 1000, 0 } }, [1, 0]);
        Assert.That(table.Probabilities[0, 1], Is.EqualTo(0.75).Within(1e-15));
        Assert.That(table.Probabilities[1, 0], Is.EqualTo(1.0));
        Assert.That(ClassificationMetrics.Compute(table).Accuracy, Is.EqualTo(1.0));
    }

    [Test]
    public void ArgmaxTiesGoToTheLowerClass()
    {
        var table = ScoreTable.FromProbabilities(new[,] { { 0.5, 0.5 }, { 0.25, 0.75 } }, [1, 1]);
        Assert.That(table.Predictions(), Is.EqualTo(new[] { 0, 1 }));
    }
}
