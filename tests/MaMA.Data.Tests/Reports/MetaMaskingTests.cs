using MaMA.Data.Reports;

namespace MaMA.Data.Tests.Reports;

[TestFixture]
public sealed class MetaMaskingTests
{
    private static readonly ReportFields Original = ReportBuilderTests.Fields();

    private static bool[] Masked(ReportFields m) =>
    [
        m.Age == "unknown", m.Race == "unknown", m.Ethnicity == "unknown",
        m.ImageType == "unknown", m.Side == "unknown", m.View == "unknown",
    ];

    [Test]
    public void EachFieldIsMaskedWithProbabilityMaskMeta()
    {
        var masking = new MetaMasking(MaskRatio: 1.0, MaskMeta: 0.8, Seed: 7);
        const int draws = 20_000;
        var counts = new int[6];
        int allSix = 0;
        for (int i = 0; i < draws; i++)
        {
            bool[] m = Masked(masking.Apply(Original, i));
            for (int f = 0; f < 6; f++)
                if (m[f]) counts[f]++;
            if (m.All(x => x)) allSix++;
        }
        for (int f = 0; f < 6; f++)
            Assert.That(counts[f] / (double)draws, Is.EqualTo(0.8).Within(0.01), MetaMasking.MaskedFields[f]);
        // Independent fields: all six masked with probability 0.8^6 = 0.262.
        Assert.That(allSix / (double)draws, Is.EqualTo(Math.Pow(0.8, 6)).Within(0.015));
    }

    [Test]
    public void MaskRatioGatesTheWholeReport()
    {
        var masking = new MetaMasking(MaskRatio: 0.5, MaskMeta: 1.0, Seed: 3);
        const int draws = 20_000;
        int masked = 0;
        for (int i = 0; i < draws; i++)
        {
            bool[] m = Masked(masking.Apply(Original, i));
            Assert.That(m.All(x => x) || m.All(x => !x), "with mask_meta 1 a report is masked entirely or not at all");
            if (m[0]) masked++;
        }
        Assert.That(masked / (double)draws, Is.EqualTo(0.5).Within(0.01));
    }

    [Test]
    public void MaskRatioZeroLeavesReportsIntact()
    {
        var masking = new MetaMasking(MaskRatio: 0.0, MaskMeta: 0.8, Seed: 1);
        string text = ReportBuilder.Build(Original).Text;
        for (int i = 0; i < 1000; i++)
            Assert.That(masking.Build(Original, i, epoch: i % 3).Text, Is.EqualTo(text));
        Assert.That(MetaMasking.None.Build(Original, 5).Text, Is.EqualTo(text));
    }

    [Test]
    public void SameSeedSameResultRegardlessOfOrder()
    {
        var a = new MetaMasking(1.0, 0.8, Seed: 42);
        var b = new MetaMasking(1.0, 0.8, Seed: 42);
        var forward = Enumerable.Range(0, 500).Select(i => a.Build(Original, i, 2).Text).ToArray();
        var backward = Enumerable.Range(0, 500).Reverse().Select(i => b.Build(Original, i, 2).Text).Reverse().ToArray();
        var parallel = new string[500];
        Parallel.For(0, 500, i => parallel[i] = b.Build(Original, i, 2).Text);
        Assert.That(backward, Is.EqualTo(forward));
        Assert.That(parallel, Is.EqualTo(forward));

        var otherSeed = Enumerable.Range(0, 500).Select(i => new MetaMasking(1.0, 0.8, 43).Build(Original, i, 2).Text).ToArray();
        var otherEpoch = Enumerable.Range(0, 500).Select(i => a.Build(Original, i, 3).Text).ToArray();
        Assert.That(otherSeed, Is.Not.EqualTo(forward));
        Assert.That(otherEpoch, Is.Not.EqualTo(forward));
    }

    [Test]
    public void MaskedReportIsExact()
    {
        // Find a draw that masks exactly age, side and view (fields 0, 4, 5).
        var masking = new MetaMasking(1.0, 0.5, Seed: 11);
        int index = Enumerable.Range(0, 10_000).First(i => Masked(masking.Apply(Original, i)).SequenceEqual([true, false, false, false, true, true]));
        Assert.That(masking.Build(Original, index).Text, Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is White, Non-Hispanic or Latino, and unknown years old.  Image info: This is a 2D full-field digital mammogram of the unknown breast with unknown view.  Breast composition: The breast is scattered fibroglandular densities.  Findings: The mammogram shows that no significant masses, calcification, or other abnormalities are present.  Impressions: BI-RADS Category 1: negative. Overall Assessment: Negative. "));
    }
}
