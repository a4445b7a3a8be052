using System.Text.Json;
using MaMA.Evaluation.Metrics;
using MaMA.Evaluation.Tests.Plots;

namespace MaMA.Evaluation.Tests.Cli;

/// <summary><c>mama metrics</c> end to end, in process.</summary>
[TestFixture]
public sealed class MetricsCommandTests
{
    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = MaMA.Cli.Cli.Run(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }

    [Test]
    public void BinaryWithHeadersWritesJsonAndPlotsBesideIt()
    {
        using var dir = new TempDir();
        string scores = dir.File("scores.csv"), labels = dir.File("labels.csv"), json = dir.File("test.json");
        double[] p1 = [0.1, 0.2, 0.3, 0.6, 0.7, 0.4, 0.55, 0.8, 0.9, 0.95];
        File.WriteAllLines(scores, new[] { "benign,malignant" }.Concat(p1.Select(p => FormattableString.Invariant($"{1 - p},{p}"))));
        File.WriteAllLines(labels, new[] { "label" }.Concat(Enumerable.Range(0, 10).Select(i => i < 5 ? "0" : "1")).Append(""));

        (int code, string stdout, string stderr) = Run("metrics", "--scores", scores, "--labels", labels, "--out", json);
        Assert.That(code, Is.EqualTo(0), stderr);
        JsonElement root = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(root.EnumerateObject().Select(o => o.Name), Is.EqualTo(new[]
        {
            "accuracy", "balanced_accuracy", "auc", "confusion_matrix", "per_class_accuracy", "sensitivity",
            "specificity", "ppv", "npv", "f1", "specificity_at_sensitivity_0_8", "pf1",
        }));
        Assert.That(root.GetProperty("auc").GetDouble(), Is.EqualTo(0.84).Within(1e-12));
        Assert.That(root.GetProperty("pf1").GetDouble(), Is.EqualTo(24.0 / 35).Within(1e-12));
        Assert.That(root.GetProperty("specificity_at_sensitivity_0_8").GetDouble(), Is.EqualTo(0.6).Within(1e-12));
        Assert.That(stdout, Does.Contain("auc").And.Contain("0.8400"));
        PngAssert.IsPicture(dir.File("test.confusion.png"), 800, 700);
        PngAssert.IsPicture(dir.File("test.roc.png"), 800, 700);
    }

    [Test]
    public void QuotedCellsMayHoldCommas()
    {
        // The docs say cells may be double-quoted: a class name with a comma was split into two columns.
        using var dir = new TempDir();
        string scores = dir.File("scores.csv"), labels = dir.File("labels.csv"), json = dir.File("quoted.json");
        double[] p1 = [0.1, 0.2, 0.3, 0.6, 0.7, 0.4, 0.55, 0.8, 0.9, 0.95];
        File.WriteAllLines(scores, new[] { "\"benign, with calcifications\",\"malignant\"" }.Concat(p1.Select(p => FormattableString.Invariant($"\"{1 - p}\",{p}"))));
        File.WriteAllLines(labels, new[] { "label" }.Concat(Enumerable.Range(0, 10).Select(i => i < 5 ? "0" : "1")));
        (int code, _, string stderr) = Run("metrics", "--scores", scores, "--labels", labels, "--out", json);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("auc").GetDouble(), Is.EqualTo(0.84).Within(1e-12));
    }

    [Test]
    public void LogitsAndPlotsFolder()
    {
        using var dir = new TempDir();
        string scores = dir.File("logits.csv"), labels = dir.File("labels.csv"), json = dir.File("out.json");
        string plots = dir.File("plots");
        // Three classes, logits without a header; labels 0 1 2 2: argmax predictions 0 1 2 0.
        File.WriteAllLines(scores, ["2.0,0.1,-1", "0,3,1", "-1,0,4.5", "1.5,1,1.2"]);
        File.WriteAllLines(labels, ["0", "1", "2", "2"]);
        (int code, _, string stderr) = Run("metrics", "--scores", scores, "--labels", labels, "--out", json, "--plots", plots, "--logits");
        Assert.That(code, Is.EqualTo(0), stderr);
        JsonElement root = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(root.GetProperty("accuracy").GetDouble(), Is.EqualTo(0.75));
        Assert.That(root.GetProperty("balanced_accuracy").GetDouble(), Is.EqualTo((1 + 1 + 0.5) / 3).Within(1e-15));
        Assert.That(root.GetProperty("sensitivity").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(File.Exists(Path.Combine(plots, "out.confusion.png")) && File.Exists(Path.Combine(plots, "out.roc.png")));
    }

    [Test]
    public void InputProblemsNameTheFileAndLineAndExitTwo()
    {
        using var dir = new TempDir();
        string scores = dir.File("scores.csv"), labels = dir.File("labels.csv"), json = dir.File("m.json");
        File.WriteAllLines(scores, ["p0,p1", "0.2,0.8", "0.6,0.4", "0.5,0.5"]);

        File.WriteAllLines(labels, ["1", "0"]);
        AssertFails("has 3 sample rows but", "labels.csv has 2");

        File.WriteAllLines(labels, ["1", "0", "2"]);
        AssertFails("labels.csv:3", "outside [0, 1]");

        File.WriteAllLines(labels, ["1", "zero", "1"]);
        AssertFails("labels.csv:2", "not an integer");

        File.WriteAllLines(labels, ["1", "0", "1"]);
        File.WriteAllLines(scores, ["p0,p1", "0.2,0.8", "0.6,abc", "0.5,0.5"]);
        AssertFails("scores.csv:3", "'abc'");

        File.WriteAllLines(scores, ["0.2,0.8", "0.6,0.4", "0.5,0.5,0"]);
        AssertFails("scores.csv:3", "3 columns");

        File.WriteAllLines(scores, ["0.2,0.8", "NaN,0.4", "0.5,0.5"]);
        AssertFails("scores.csv:2", "finite");

        File.WriteAllLines(scores, ["0.2,0.8", "0.6,0.3", "0.5,0.5"]);
        AssertFails("scores.csv:2", "--logits");

        File.WriteAllLines(scores, ["0.2,0.8", "0.6,0.4", "0.5,0.5"]);
        AssertFails("--class-names lists 3", null, "--class-names", "a,b,c");
        AssertFails("no such file", null, "--labels", dir.File("missing.csv"));
        Assert.That(File.Exists(json), Is.False, "nothing written after an input error");
        Assert.That(Run("metrics", "--scores", scores, "--labels", labels).Code, Is.EqualTo(2));
        Assert.That(Run("metrics", "--scores", scores, "--labels", labels, "--out", json, "--logtis").Code, Is.EqualTo(2));

        void AssertFails(string expected, string? alsoExpected, params string[] extra)
        {
            var args = new List<string> { "metrics", "--scores", scores, "--labels", labels, "--out", json };
            for (int i = 0; i < extra.Length; i += 2)
            {
                int at = args.IndexOf(extra[i]);
                if (at >= 0) args[at + 1] = extra[i + 1];
                else args.AddRange([extra[i], extra[i + 1]]);
            }
            (int code, _, string stderr) = Run(args.ToArray());
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(stderr, Does.Contain(expected));
            if (alsoExpected is not null) Assert.That(stderr, Does.Contain(alsoExpected));
            Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
        }
    }

    [Test]
    public void PlotPathsFollowTheJsonName()
    {
        (string confusion, string roc) = MaMA.Cli.Commands.MetricsCommand.PlotPaths("/r/test.json", null);
        Assert.That((confusion, roc), Is.EqualTo(("/r/test.confusion.png", "/r/test.roc.png")));
        (confusion, _) = MaMA.Cli.Commands.MetricsCommand.PlotPaths("/r/test.json", "/p");
        Assert.That(confusion, Is.EqualTo("/p/test.confusion.png"));
        Assert.That(MetricsReport.JsonKeys, Has.Length.EqualTo(12));
    }
}
