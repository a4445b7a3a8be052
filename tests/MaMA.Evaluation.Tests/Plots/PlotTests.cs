using MaMA.Evaluation.Metrics;
using MaMA.Evaluation.Plots;
using MaMA.Evaluation.Tests.Metrics;

namespace MaMA.Evaluation.Tests.Plots;

[TestFixture]
public sealed class PlotTests
{
    [Test]
    public void ConfusionMatrixPlotIsAPicture()
    {
        using var dir = new TempDir();
        var cm = ConfusionMatrix.FromPredictions([0, 0, 1, 1, 2, 2, 3], [0, 1, 1, 0, 2, 2, 3], 4);
        string png = dir.File("cm.png");
        ConfusionMatrixPlot.Save(cm, png, ["fatty", "scattered", "heterogeneous", "dense"], width: 640, height: 560);
        PngAssert.IsPicture(png, 640, 560);
    }

    [Test]
    public void RocPlotIsAPictureForBinaryAndMultiClass()
    {
        using var dir = new TempDir();
        (double[,] p, int[] labels) = Examples.Binary();
        string binary = dir.File("roc2.png");
        RocPlot.Save(ScoreTable.FromProbabilities(p, labels), binary);
        PngAssert.IsPicture(binary, 800, 700);

        (double[,] p3, int[] labels3) = Examples.ThreeClass();
        string multi = dir.File("roc3.png");
        RocPlot.Save(ScoreTable.FromProbabilities(p3, labels3), multi, ["a", "b", "c"], width: 500, height: 400);
        PngAssert.IsPicture(multi, 500, 400);
    }

    [Test]
    public void RocPlotWithAnAbsentClassStillDraws()
    {
        using var dir = new TempDir();
        double[,] p = { { 0.6, 0.3, 0.1 }, { 0.2, 0.7, 0.1 }, { 0.5, 0.4, 0.1 } };
        string png = dir.File("roc.png");
        RocPlot.Save(ScoreTable.FromProbabilities(p, [0, 1, 0]), png);
        PngAssert.IsPicture(png, 800, 700);
    }

    [Test]
    public void LossCurvesFromMetricsJsonl()
    {
        using var dir = new TempDir();
        string jsonl = dir.File("metrics.jsonl");
        var lines = new List<string>();
        for (int step = 1; step <= 200; step += 10)
        {
            double total = 3 * Math.Exp(-step / 60.0) + 0.1;
            lines.Add(System.FormattableString.Invariant(
                $"{{\"step\":{step},\"loss\":{total},\"loss_clip\":{total * 0.6},\"loss_sla\":{total * 0.4},\"lr\":{4e-5 * Math.Min(1, step / 50.0)},\"grad_norm\":1.5}}"));
            if (step == 101) lines.Add("");
        }
        File.WriteAllLines(jsonl, lines);

        (List<LossCurvePlot.Series> losses, LossCurvePlot.Series? lr) = LossCurvePlot.Read(jsonl);
        Assert.That(losses.Select(s => s.Name), Is.EqualTo(new[] { "loss", "loss_clip", "loss_sla" }));
        Assert.That(losses[0].Steps, Has.Length.EqualTo(20));
        Assert.That(lr, Is.Not.Null);
        Assert.That(lr!.Values[^1], Is.EqualTo(4e-5).Within(1e-18));

        string png = dir.File("loss.png");
        LossCurvePlot.FromMetricsJsonl(jsonl, png);
        PngAssert.IsPicture(png, 1000, 600);
        string log = dir.File("loss-log.png");
        LossCurvePlot.FromMetricsJsonl(jsonl, log, logY: true, width: 700, height: 400);
        PngAssert.IsPicture(log, 700, 400);

        string fromSeries = dir.File("series.png");
        LossCurvePlot.Save([new LossCurvePlot.Series("loss", [1, 2, 3], [1.0, 0.5, 0.25])], null, fromSeries, width: 300, height: 200);
        PngAssert.IsPicture(fromSeries, 300, 200);
    }

    [Test]
    public void ASeriesOfOnePointIsDrawnAsAMarker()
    {
        // A run whose metrics.jsonl holds one line: a line of one point draws nothing but its legend entry.
        using var dir = new TempDir();
        string one = dir.File("one.png"), two = dir.File("two.png");
        LossCurvePlot.Save([new LossCurvePlot.Series("loss", [20], [2.5])], null, one, width: 400, height: 300);
        LossCurvePlot.Save([new LossCurvePlot.Series("loss", [20, 21], [2.5, 2.5])], null, two, width: 400, height: 300);
        // The series colour (Category10's first, #1f77b4) in the plot area, left of the legend box.
        static int SeriesPixels(string png)
        {
            using var image = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgba32>(png);
            int n = 0;
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width * 2 / 3; x++)
                {
                    var p = image[x, y];
                    if (Math.Abs(p.R - 31) < 30 && Math.Abs(p.G - 119) < 30 && Math.Abs(p.B - 180) < 30) n++;
                }
            return n;
        }
        // Measured: 0 before markers were drawn, 51 with one (a two-point line draws about 200).
        Assert.That(SeriesPixels(one), Is.GreaterThan(30));
        Assert.That(SeriesPixels(two), Is.GreaterThan(30));
    }

    [Test]
    public void MalformedMetricsJsonlNamesTheLine()
    {
        using var dir = new TempDir();
        string jsonl = dir.File("metrics.jsonl");
        File.WriteAllLines(jsonl, ["{\"step\":1,\"loss\":1.0}", "{\"step\":2,\"loss\":0.9}", "{\"step\":3,\"loss\":"]);
        var e = Assert.Throws<InvalidDataException>(() => LossCurvePlot.FromMetricsJsonl(jsonl, dir.File("x.png")))!;
        Assert.That(e.Message, Does.Contain("metrics.jsonl:3"));
        Assert.That(File.Exists(dir.File("x.png")), Is.False);

        File.WriteAllLines(jsonl, ["{\"step\":1,\"acc\":1.0}"]);
        Assert.Throws<InvalidDataException>(() => LossCurvePlot.FromMetricsJsonl(jsonl, dir.File("x.png")));
    }

    [Test]
    public void UpsampleIsBilinearWithHalfPixelCentres()
    {
        // torch.nn.functional.interpolate([[0, 1], [2, 3]], size=4, mode="bilinear", align_corners=False).
        double[,] up = HeatmapOverlay.Upsample(new float[,] { { 0, 1 }, { 2, 3 } }, 4, 4);
        double[,] expected =
        {
            { 0.0, 0.25, 0.75, 1.0 },
            { 0.5, 0.75, 1.25, 1.5 },
            { 1.5, 1.75, 2.25, 2.5 },
            { 2.0, 2.25, 2.75, 3.0 },
        };
        Assert.That(up, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void HeatmapOverlayIsAPicture()
    {
        using var dir = new TempDir();
        const int h = 96, w = 64;
        var image = new float[h, w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                image[y, x] = MathF.Max(0, 1 - MathF.Sqrt((x - 10f) * (x - 10f) + (y - 48f) * (y - 48f)) / 50f);
        var similarity = new float[6, 4];
        similarity[2, 1] = 1f;
        similarity[3, 1] = 0.5f;
        string png = dir.File("overlay.png");
        HeatmapOverlay.Save(image, similarity, png, "patch similarity", width: 400, height: 500);
        PngAssert.IsPicture(png, 400, 500);
    }
}
