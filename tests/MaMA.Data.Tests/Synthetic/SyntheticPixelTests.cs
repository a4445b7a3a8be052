using MaMA.Data.Synthetic;

namespace MaMA.Data.Tests.Synthetic;

/// <summary>The generator's labels can be read back from its pixels (measured on the written PNGs).</summary>
[TestFixture]
public sealed class SyntheticPixelTests
{
    private static (byte[] Pixels, int W, int H) Load(SynthImage i) => SynthTestData.LoadPng(Path.Combine(SynthTestData.Dir, i.RelativePath));

    private static bool Clean(SynthImage i) => !i.HasMass && !i.HasCalcification && !i.HasAsymmetry && i.Pixels.Clips.Count == 0;

    [Test]
    public void BrightTissueFractionRisesWithDensityClass()
    {
        var byClass = SynthTestData.Images2D.Where(i => i.RenderedDensity is >= 1 and <= 4)
            .GroupBy(i => i.RenderedDensity).OrderBy(g => g.Key)
            .Select(g => (Class: g.Key, Count: g.Count(), Mean: g.Average(i => PixelMeasures.BrightFraction(Load(i).Pixels)),
                          Truth: g.Average(i => i.Pixels.DenseFraction)))
            .ToList();
        foreach (var c in byClass) TestContext.Out.WriteLine($"density {c.Class}: {c.Count} images, bright fraction {c.Mean:F3} (rendered dense fraction {c.Truth:F3})");
        Assert.That(byClass.Select(c => c.Class), Is.EqualTo(new[] { 1, 2, 3, 4 }), "every density class should occur");
        for (int k = 1; k < byClass.Count; k++)
            Assert.That(byClass[k].Mean, Is.GreaterThan(byClass[k - 1].Mean + 0.08), $"density {byClass[k].Class} vs {byClass[k - 1].Class}");
    }

    [Test]
    public void MassImagesHaveACompactBrightBlob()
    {
        // Masses are brighter than any normal tissue (max 7x7 local mean) and small (few pixels that bright).
        const double Level = 210;
        var mass = SynthTestData.Images2D.Where(i => i.HasMass).Select(Measure).ToList();
        var clean = SynthTestData.Images2D.Where(Clean).Select(Measure).ToList();
        TestContext.Out.WriteLine($"max local mean: mass images {Describe(mass.Select(m => m.Mean).ToList())}; clean images {Describe(clean.Select(m => m.Mean).ToList())}");
        TestContext.Out.WriteLine($"fraction above {Level}: mass images {Describe(mass.Select(m => 100 * m.Area).ToList())} %");
        Assert.That(mass, Has.Count.GreaterThanOrEqualTo(8));
        Assert.That(mass.Count(m => m.Mean > Level), Is.GreaterThanOrEqualTo(mass.Count * 95 / 100), $"mass images with a local mean above {Level}");
        Assert.That(clean.Count(m => m.Mean > Level), Is.LessThanOrEqualTo(clean.Count / 50), $"clean images with a local mean above {Level}");
        Assert.That(mass.Average(m => m.Mean), Is.GreaterThan(clean.Average(m => m.Mean) + 20));
        Assert.That(mass.All(m => m.Area < 0.06), "the bright part of a mass image is a small blob");

        static (double Mean, double Area) Measure(SynthImage i)
        {
            var (px, w, h) = Load(i);
            return (PixelMeasures.MaxLocalMean(px, w, h), PixelMeasures.FractionAbove(px, (int)Level));
        }
    }

    [Test]
    public void CalcificationImagesHaveManyTinySpecks()
    {
        var calc = SynthTestData.Images2D.Where(i => i.HasCalcification).Select(i => (i, n: Specks(i))).ToList();
        var clean = SynthTestData.Images2D.Where(Clean).Select(i => (i, n: Specks(i))).ToList();
        TestContext.Out.WriteLine($"specks: calcification images {Describe(calc.Select(c => (double)c.n).ToList())}; clean images {Describe(clean.Select(c => (double)c.n).ToList())}");
        Assert.That(calc, Has.Count.GreaterThanOrEqualTo(8));
        Assert.That(clean.Count(c => c.n >= 3), Is.LessThanOrEqualTo(clean.Count / 50), "clean images with 3+ specks");
        Assert.That(calc.Count(c => c.n >= 3), Is.GreaterThanOrEqualTo(calc.Count * 9 / 10), "calcification images with 3+ specks");
    }

    [Test]
    public void FindingsFollowTheAssessment()
    {
        foreach (var i in SynthTestData.Images2D.Where(i => i.RowRule != SynthRowRule.AllRows && i.Birads is not null))
        {
            string what = $"{i.RelativePath} ({i.Assessment})";
            switch (i.Assessment)
            {
                case "N": Assert.That(Clean(i), what + " should show nothing"); break;
                case "A": Assert.That(i.HasAsymmetry, what + " should show an asymmetry"); break;
                case "S" or "M" or "K": Assert.That(i.HasMass || i.HasCalcification, what + " should show a mass or calcifications"); break;
                case "P" or "B": Assert.That(i.HasMass || i.HasCalcification, what + " should show a (benign-looking) finding"); break;
            }
            if (i.Assessment is "N" or "B" or "P" or "A")
                Assert.That(i.Pixels.Masses.All(m => m.Margin == "circumscribed"), what + ": masses in benign categories are circumscribed");
            if (i.Assessment is "M" or "K")
                Assert.That(i.Pixels.Masses.Any(m => m.Margin == "spiculated") || i.HasCalcification, what + ": malignant masses are spiculated");
        }
    }

    [Test]
    public void TruthPositionsAreBrightInThePixels()
    {
        int specks = 0, brightSpecks = 0, masses = 0, brightMasses = 0;
        foreach (var i in SynthTestData.Images2D.Where(i => i.HasMass || i.HasCalcification))
        {
            var (px, w, h) = Load(i);
            double breastMean = i.Pixels.MeanBreastValue;
            foreach (var m in i.Pixels.Masses)
            {
                masses++;
                if (px[(int)Math.Round(m.Y) * w + (int)Math.Round(m.X)] > breastMean + 20) brightMasses++;
            }
            foreach (var s in i.Pixels.Specks)
            {
                specks++;
                int x = (int)Math.Round(s.X), y = (int)Math.Round(s.Y);
                int peak = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        peak = Math.Max(peak, px[Math.Clamp(y + dy, 0, h - 1) * w + Math.Clamp(x + dx, 0, w - 1)]);
                if (peak > px[Math.Clamp(y + 4, 0, h - 1) * w + x] + 15) brightSpecks++;
            }
        }
        TestContext.Out.WriteLine($"bright at truth: masses {brightMasses}/{masses}, specks {brightSpecks}/{specks}");
        Assert.That(brightMasses, Is.GreaterThanOrEqualTo(masses * 9 / 10));
        Assert.That(brightSpecks, Is.GreaterThanOrEqualTo(specks * 8 / 10));
    }

    [Test]
    public void LeftBreastsTouchTheLeftEdgeAndRightBreastsTheRight()
    {
        foreach (var i in SynthTestData.Images2D.Take(24))
        {
            var (px, w, h) = Load(i);
            int leftColumn = 0, rightColumn = 0;
            for (int y = 0; y < h; y++)
            {
                if (px[y * w] > PixelMeasures.BreastThreshold) leftColumn++;
                if (px[y * w + w - 1] > PixelMeasures.BreastThreshold) rightColumn++;
            }
            if (i.Laterality == "L") Assert.That(leftColumn, Is.GreaterThan(h / 3).And.GreaterThan(rightColumn * 4), i.RelativePath);
            else Assert.That(rightColumn, Is.GreaterThan(h / 3).And.GreaterThan(leftColumn * 4), i.RelativePath);
        }
    }

    private static int Specks(SynthImage i)
    {
        var (px, w, h) = Load(i);
        return PixelMeasures.SpeckCount(px, w, h);
    }

    private static string Describe(List<double> v) =>
        v.Count == 0 ? "none" : $"n={v.Count} min {v.Min():F1} median {v.Order().ElementAt(v.Count / 2):F1} mean {v.Average():F1} max {v.Max():F1}";
}
