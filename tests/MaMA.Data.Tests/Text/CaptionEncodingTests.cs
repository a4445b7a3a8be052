using MaMA.Data.Text;

namespace MaMA.Data.Tests.Text;

[TestFixture]
public sealed class CaptionEncodingTests
{
    private static readonly MaMATokenizer Gpt2 = MaMATokenizer.CreateGpt2();

    // A structured report as SPEC section 1 builds it (density 3, BI-RADS N).
    internal const string Report =
        "Procedure reported: MG Screening Bilateral w/CAD; Reason for procedure: screening; "
        + "Patient info: This patient is White, Non-Hispanic or Latino, and 57 years old.  "
        + "Image info: This is a 2D full-field digital mammogram of the left breast with CC view.  "
        + "Breast composition: The breast is heterogeneously dense. This may lower the sensitivity of mammography.  "
        + "Findings: The mammogram shows that no significant masses, calcification, or other abnormalities are present.  "
        + "Impressions: BI-RADS Category 1: negative. Overall Assessment: Negative. ";

    [Test]
    public void PrepareCaptionReplacesPeriodsAndSemicolonsAndWraps()
    {
        Assert.That(MaMATokenizer.PrepareCaption("a; b. c"),
            Is.EqualTo("<|startoftext|>a<|separatetext|> b<|separatetext|> c<|endoftext|>"));
        // Every "." counts, decimals included (as in the reference's str.replace).
        Assert.That(MaMATokenizer.PrepareCaption("3.5"), Is.EqualTo("<|startoftext|>3<|separatetext|>5<|endoftext|>"));
        Assert.That(MaMATokenizer.PrepareCaption(""), Is.EqualTo("<|startoftext|><|endoftext|>"));
    }

    [Test]
    public void ReportCaptionHasBosSepsEosAndPadding()
    {
        EncodedCaption c = Gpt2.EncodeCaption(Report);
        int sentenceEnds = Report.Count(ch => ch is '.' or ';');
        Assert.Multiple(() =>
        {
            Assert.That(c.Ids, Has.Length.EqualTo(144));
            Assert.That(c.AttentionMask, Has.Length.EqualTo(144));
            Assert.That(c.Truncated, Is.False, $"{c.FullLength} tokens");
            Assert.That(c.Ids[0], Is.EqualTo(Gpt2.BosId));
            Assert.That(c.Ids[c.Length - 1], Is.EqualTo(Gpt2.EndOfTextId));
            Assert.That(c.Ids.Skip(c.Length), Is.All.EqualTo(Gpt2.PadId));
            Assert.That(c.AttentionMask.Take(c.Length), Is.All.EqualTo(1));
            Assert.That(c.AttentionMask.Skip(c.Length), Is.All.EqualTo(0));
            Assert.That(c.AttentionMask.Sum(), Is.EqualTo(c.Length));
            Assert.That(c.SepPositions, Has.Length.EqualTo(sentenceEnds));
            Assert.That(c.SepPositions.Select(p => c.Ids[p]), Is.All.EqualTo(Gpt2.SepId));
            Assert.That(Enumerable.Range(0, 144).Count(t => c.Ids[t] == Gpt2.SepId), Is.EqualTo(sentenceEnds));
            Assert.That(c.SepPositions, Is.Ordered.Ascending);
            Assert.That(c.Ids.Take(c.Length).Count(id => id == Gpt2.PadId), Is.Zero);
        });
        Assert.That(Gpt2.Decode(c.Ids.Take(c.Length)), Is.EqualTo(MaMATokenizer.PrepareCaption(Report)));
    }

    [Test]
    public void LongCaptionIsTruncatedTo144AndKeepsOnlySurvivingSeps()
    {
        string longReport = Report + Report + Report;
        int[] full = Gpt2.EncodeText(MaMATokenizer.PrepareCaption(longReport));
        Assert.That(full, Has.Length.GreaterThan(144));

        EncodedCaption c = Gpt2.EncodeCaption(longReport);
        int[] expectedSeps = [.. Enumerable.Range(0, 144).Where(t => full[t] == Gpt2.SepId)];
        Assert.Multiple(() =>
        {
            Assert.That(c.Truncated, Is.True);
            Assert.That(c.FullLength, Is.EqualTo(full.Length));
            Assert.That(c.Length, Is.EqualTo(144));
            Assert.That(c.Ids, Is.EqualTo(full.Take(144)));
            Assert.That(c.AttentionMask.Sum(), Is.EqualTo(144));
            Assert.That(c.Ids[^1], Is.Not.EqualTo(Gpt2.EndOfTextId), "EOS is cut with the tail, as in the reference");
            Assert.That(c.Ids, Has.No.Member(Gpt2.PadId));
            Assert.That(c.SepPositions, Is.EqualTo(expectedSeps));
            Assert.That(c.SepPositions.Length, Is.LessThan(full.Count(id => id == Gpt2.SepId)));
            Assert.That(c.SepPositions, Is.All.LessThan(144));
        });
    }

    [TestCase(1)]
    [TestCase(16)]
    [TestCase(77)]
    [TestCase(256)]
    public void MaxLengthIsAParameter(int maxLength)
    {
        int[] full = Gpt2.EncodeText(MaMATokenizer.PrepareCaption(Report));
        EncodedCaption c = Gpt2.EncodeCaption(Report, maxLength);
        int kept = Math.Min(full.Length, maxLength);
        Assert.That(c.Ids, Has.Length.EqualTo(maxLength));
        Assert.That(c.Length, Is.EqualTo(kept));
        Assert.That(c.AttentionMask.Sum(), Is.EqualTo(kept));
        Assert.That(c.Ids.Take(kept), Is.EqualTo(full.Take(kept)));
        Assert.That(c.SepPositions, Is.EqualTo(Enumerable.Range(0, kept).Where(t => full[t] == Gpt2.SepId)));
    }

    [Test]
    public void NonPositiveMaxLengthIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2.EncodeCaption(Report, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2.EncodeCaptions([Report], -1));
    }

    [Test]
    public void BatchRowsEqualSingleEncodings()
    {
        string[] reports = [Report, "Findings: The mammogram shows that a benign finding is present. ", Report + Report, ""];
        EncodedCaptionBatch batch = Gpt2.EncodeCaptions(reports);
        Assert.That(batch.BatchSize, Is.EqualTo(4));
        Assert.That(batch.MaxLength, Is.EqualTo(144));
        Assert.That(batch.Ids, Has.Length.EqualTo(4 * 144));
        Assert.That(batch.AttentionMask, Has.Length.EqualTo(4 * 144));
        for (int b = 0; b < reports.Length; b++)
        {
            EncodedCaption single = Gpt2.EncodeCaption(reports[b]);
            Assert.That(batch.IdsRow(b).ToArray(), Is.EqualTo(single.Ids), $"row {b}");
            Assert.That(batch.MaskRow(b).ToArray(), Is.EqualTo(single.AttentionMask), $"row {b}");
            Assert.That(batch.SepPositions[b], Is.EqualTo(single.SepPositions), $"row {b}");
            Assert.That(batch.Lengths[b], Is.EqualTo(single.Length));
            Assert.That(batch.FullLengths[b], Is.EqualTo(single.FullLength));
        }
        Assert.That(batch.TruncatedCount, Is.EqualTo(1));
        Assert.That(batch.Lengths[3], Is.EqualTo(2), "an empty report is BOS + EOS");
        Assert.That(batch.IdsRow(3)[..3].ToArray(), Is.EqualTo(new[] { Gpt2.BosId, Gpt2.EndOfTextId, Gpt2.PadId }));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.IdsRow(4));
    }

    [Test]
    public void EncodingIsSafeFromManyThreads()
    {
        string[] reports = [.. Enumerable.Range(0, 64).Select(i => Report.Replace("57", (20 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)))];
        EncodedCaptionBatch sequential = Gpt2.EncodeCaptions(reports);
        var parallel = new EncodedCaption[reports.Length * 4];
        Parallel.For(0, parallel.Length, i => parallel[i] = MaMATokenizerForThreads.EncodeCaption(reports[i % reports.Length]));
        for (int i = 0; i < parallel.Length; i++)
        {
            Assert.That(parallel[i].Ids, Is.EqualTo(sequential.IdsRow(i % reports.Length).ToArray()));
        }
    }

    // A fresh instance so the cache starts empty while the threads race.
    private static readonly MaMATokenizer MaMATokenizerForThreads = MaMATokenizer.CreateGpt2();
}
