using System.Text.Json;
using MaMA.Data.Embed;
using MaMA.Evaluation.Explain;
using MaMA.Evaluation.Tests.Plots;
using MaMA.Evaluation.Tests.ZeroShot;

namespace MaMA.Evaluation.Tests.Explain;

/// <summary>
/// <c>mama explain</c>: one heat-map PNG of the requested size per report sentence, the index
/// (sentence -> file), the zero-shot scores; the task's prompts without a report; sentence splitting
/// and the report base.
/// </summary>
[TestFixture]
public sealed class ExplainCommandTests
{
    private static string Image => EmbedDataset.Load(EvalTestData.Data).Records[0].Path;

    [Test]
    public void OneHeatmapPerReportSentence()
    {
        string output = EvalTestData.NewDir("explain-report");
        const string report = "Breast composition: The breast is heterogeneously dense. This may lower the sensitivity of mammography. Findings: no mass is present;";
        (int code, string stdout, string stderr) = EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report", report,
            "--out", output, "--task", "birads", "--size", "240", "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("predicted"));

        string[] pngs = Directory.GetFiles(output, "*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(pngs, Is.EqualTo(new[] { "sentence_00.png", "sentence_01.png", "sentence_02.png" }));
        foreach (string png in pngs) PngAssert.IsPicture(Path.Combine(output, png), 240, 240);

        using JsonDocument index = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "index.json")));
        JsonElement[] sentences = index.RootElement.GetProperty("sentences").EnumerateArray().ToArray();
        Assert.That(sentences.Select(s => s.GetProperty("text").GetString()), Is.EqualTo(new[]
        {
            "Breast composition: The breast is heterogeneously dense.", "This may lower the sensitivity of mammography.", "Findings: no mass is present;",
        }));
        Assert.That(sentences.Select(s => s.GetProperty("file").GetString()), Is.EqualTo(pngs));
        foreach (JsonElement s in sentences)
            Assert.That(s.GetProperty("min").GetDouble(), Is.GreaterThanOrEqualTo(-1.0001).And.LessThanOrEqualTo(s.GetProperty("max").GetDouble()));
        JsonElement zeroShot = index.RootElement.GetProperty("zero_shot");
        Assert.That(zeroShot.GetProperty("probabilities").EnumerateArray().Sum(p => p.GetDouble()), Is.EqualTo(1.0).Within(1e-9));
        Assert.That(zeroShot.GetProperty("classes").GetArrayLength(), Is.EqualTo(7));
        Assert.That(File.ReadAllLines(Path.Combine(output, "index.csv")), Has.Length.EqualTo(4));
    }

    [Test]
    public void WithoutAReportThePromptsOfTheTaskAreExplained()
    {
        string output = EvalTestData.NewDir("explain-prompts");
        (int code, _, string stderr) = EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--out", output, "--size", "200", "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(Directory.GetFiles(output, "*.png"), Has.Length.EqualTo(4), "four density prompts");
        PngAssert.IsPicture(Path.Combine(output, "sentence_03.png"), 200, 200);
        Assert.That(File.ReadAllText(Path.Combine(output, "index.csv")), Does.Contain("density 4: Breast composition: The breast is extremely dense."));
    }

    [Test]
    public void UsageErrorsExitWithTwo()
    {
        Assert.That(EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", "/nonexistent.png", "--out", "x").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report", "no sentence end", "--out", "x").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--task", "age", "--out", "x").Code, Is.EqualTo(2));
    }

    [Test]
    public void ARerunIntoTheSameFolderLeavesOnlyItsOwnHeatmaps()
    {
        string output = EvalTestData.NewDir("explain-rerun");
        Assert.That(EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report", "One. Two. Three.", "--out", output, "--size", "120", "--device", "cpu").Code, Is.EqualTo(0));
        Assert.That(EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report", "Only one.", "--out", output, "--size", "120", "--device", "cpu").Code, Is.EqualTo(0));
        Assert.That(Directory.GetFiles(output, "sentence_*.png").Select(Path.GetFileName), Is.EqualTo(new[] { "sentence_00.png" }));
    }

    [Test]
    public void SentencesCutOffByTheTokenLimitAreNamedAsSuch()
    {
        // The report has sentences, but the first "." comes after the caption's token limit: the text model sees none.
        string report = string.Concat(Enumerable.Repeat("word ", 200)) + "end. Findings: x.";
        (int code, _, string stderr) = EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report", report,
            "--out", EvalTestData.NewDir("explain-long"), "--device", "cpu");
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(stderr, Does.Contain("sentence(s) all end after the").And.Contain("token limit"));
    }

    [Test]
    public void AReportWithoutASentenceNamesTheOptionItCameFrom()
    {
        (int code, _, string stderr) = EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report", "no sentence end", "--out", "x");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.StartWith("mama explain: --report has no sentence"));
        string file = Path.Combine(EvalTestData.NewDir("explain-report-file"), "report.txt");
        File.WriteAllText(file, "no sentence end\n");
        (code, _, stderr) = EvalTestData.Run("explain", "--model", EvalTestData.Model, "--image", Image, "--report-file", file, "--out", "x");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.StartWith($"mama explain: --report-file {file} has no sentence"));
    }

    [Test]
    public void SentencesEndAtEachPeriodOrSemicolonAndTheBaseEndsBeforeTheComposition()
    {
        Assert.That(ReportSentences.Split("Procedure reported: MG; Reason: screening; Age 57.  tail"),
            Is.EqualTo(new[] { "Procedure reported: MG;", "Reason: screening;", "Age 57." }));
        Assert.That(ReportSentences.Base("Procedure reported: X; Image info: CC view.  Breast composition: The breast is dense. "),
            Is.EqualTo("Procedure reported: X; Image info: CC view.  "));
        Assert.That(ReportSentences.Base("Findings: none."), Is.EqualTo(""));
    }
}
