using MaMA.Data.Reports;
using MaMA.Data.Text;
using MaMA.Engine.Tensors;
using EOps = MaMA.Engine.Ops;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.Model.Tests.Text;

/// <summary>Global pooling and SEP sentence features against hand-computed values, and end to end from a tokenized report.</summary>
[TestFixture]
public sealed class TextFeaturesTests
{
    private const int Sep = 9;

    /// <summary>hidden[b, t, c] = 100 b + 10 t + c, [B, 4, 3], a leaf that records gradients.</summary>
    private static Tensor Hidden(int batch)
    {
        var values = new float[batch * 4 * 3];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < 3; c++)
                    values[(b * 4 + t) * 3 + c] = 100 * b + 10 * t + c;
        var hidden = Tensor.FromArray(values, [batch, 4, 3]);
        hidden.RequiresGrad = true;
        return hidden;
    }

    private static readonly long[] MaskValues = [1, 1, 1, 0, 1, 1, 0, 0];

    [Test]
    public void MeanAllAveragesEveryPositionPaddingIncluded()
    {
        Tensor hidden = Hidden(2);
        Tensor g = TextFeatures.GlobalFeature(hidden, Tensor.FromArray(MaskValues, [2, 4]), TextPooling.MeanAll);
        Assert.That(g.ShapeArray, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(g.ToFloatArray(), Is.EqualTo(new float[] { 15, 16, 17, 115, 116, 117 }).Within(1e-4f));
        EOps.Sum(g).Backward();
        Assert.That(hidden.Grad!.ToFloatArray(), Has.All.EqualTo(0.25f));
    }

    [Test]
    public void MaskedMeanAveragesRealTokensOnly()
    {
        Tensor hidden = Hidden(2);
        Tensor g = TextFeatures.GlobalFeature(hidden, Tensor.FromArray(MaskValues.Select(v => (int)v).ToArray(), [2, 4]), TextPooling.MaskedMean);
        // Row 0: t = 0..2 -> 10 + c; row 1: t = 0..1 -> 105 + c.
        Assert.That(g.ToFloatArray(), Is.EqualTo(new float[] { 10, 11, 12, 105, 106, 107 }).Within(1e-4f));
        EOps.Sum(g).Backward();
        float third = 1f / 3;
        float[] expected = [.. Enumerable.Repeat(third, 9), 0, 0, 0, .. Enumerable.Repeat(0.5f, 6), 0, 0, 0, 0, 0, 0];
        Assert.That(hidden.Grad!.ToFloatArray(), Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void SentencesAreTheSepHiddenStatesInOrderAndARowWithoutSepIsEmpty()
    {
        Tensor hidden = Hidden(3);
        // Row 0: SEP at 1 and 3; row 1: SEP at 0; row 2: none.
        var ids = Tensor.FromArray(new int[] { 5, Sep, 7, Sep, Sep, 1, 2, 3, 4, 4, 4, 4 }, [3, 4]);
        (Tensor sentences, Tensor offsets) = TextFeatures.SentenceFeatures(hidden, ids, Sep);
        Assert.That(offsets.DType, Is.EqualTo(DType.Int64));
        Assert.That(offsets.ToArray<long>(), Is.EqualTo(new long[] { 0, 2, 3, 3 }));
        Assert.That(sentences.ShapeArray, Is.EqualTo(new[] { 3, 3 }));
        Assert.That(sentences.ToFloatArray(), Is.EqualTo(new float[] { 10, 11, 12, 30, 31, 32, 100, 101, 102 }));

        float[] g = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        EOps.Sum(EOps.Mul(sentences, Tensor.FromArray(g, [3, 3]))).Backward();
        var expected = new float[36];
        Array.Copy(g, 0, expected, 1 * 3, 3);           // (0, 1)
        Array.Copy(g, 3, expected, 3 * 3, 3);           // (0, 3)
        Array.Copy(g, 6, expected, (4 + 0) * 3, 3);     // (1, 0)
        Assert.That(hidden.Grad!.ToFloatArray(), Is.EqualTo(expected));
    }

    [Test]
    public void NoSepAnywhereGivesAnEmptyPack()
    {
        (Tensor sentences, Tensor offsets) = TextFeatures.SentenceFeatures(Hidden(2), Tensor.FromArray(new long[8], [2, 4]), Sep);
        Assert.That(sentences.ShapeArray, Is.EqualTo(new[] { 0, 3 }));
        Assert.That(offsets.ToArray<long>(), Is.EqualTo(new long[] { 0, 0, 0 }));
    }

    [Test]
    public void BadShapesNameTheInput()
    {
        Tensor hidden = Hidden(2);
        Assert.That(() => TextFeatures.GlobalFeature(hidden, Tensor.FromArray(new long[4], [1, 4])), Throws.ArgumentException.With.Message.Contains("attention_mask"));
        Assert.That(() => TextFeatures.SentenceFeatures(hidden, Tensor.FromArray(new float[8], [2, 4]), Sep), Throws.ArgumentException.With.Message.Contains("input_ids"));
    }

    [Test]
    public void TokenizedReportsGiveOneSentencePerSep()
    {
        MaMATokenizer tokenizer = MaMATokenizer.CreateGpt2();
        MaMAConfig mama = MaMAConfig.Tiny;
        Assert.That((tokenizer.SepId, tokenizer.PadId, tokenizer.VocabularySize), Is.EqualTo((mama.SepTokenId, mama.PadTokenId, mama.Text.VocabSize)));
        var fields = new ReportFields
        {
            Procedure = "MG Screening Bilateral", Reason = "screening", Race = "White", Ethnicity = "Non-Hispanic or Latino",
            Age = "57", ImageType = "2D", Side = "left", View = "MLO", Density = 3, Birads = 1,
        };
        string[] reports = [ReportBuilder.Build(fields).Text, ReportBuilder.Build(fields with { Birads = 4, Density = 2, Side = "right", View = "CC" }).Text];
        EncodedCaptionBatch batch = tokenizer.EncodeCaptions(reports);
        Assert.That(batch.TruncatedCount, Is.Zero);
        var ids = Tensor.FromArray(batch.Ids, [batch.BatchSize, batch.MaxLength]);
        var mask = Tensor.FromArray(batch.AttentionMask, [batch.BatchSize, batch.MaxLength]);

        var model = new PeftGpt2Model(mama.Text, new Random(61));
        model.Eval();
        Tensor hidden = model.Forward(ids, mask);
        Assert.That(hidden.ShapeArray, Is.EqualTo(new[] { 2, 144, 32 }));
        (Tensor sentences, Tensor offsets) = TextFeatures.SentenceFeatures(hidden, ids, mama.SepTokenId);

        long[] off = offsets.ToArray<long>();
        float[] h = hidden.ToFloatArray(), s = sentences.ToFloatArray();
        for (int b = 0; b < 2; b++)
        {
            int expectedSentences = reports[b].Count(ch => ch is '.' or ';');
            Assert.That(off[b + 1] - off[b], Is.EqualTo(expectedSentences).And.EqualTo(batch.SepPositions[b].Length), $"report {b}");
            for (int k = 0; k < batch.SepPositions[b].Length; k++)
            {
                int t = batch.SepPositions[b][k];
                Assert.That(s.AsSpan((int)(off[b] + k) * 32, 32).ToArray(), Is.EqualTo(h.AsSpan((b * 144 + t) * 32, 32).ToArray()), $"report {b} sentence {k}");
            }
        }
        Assert.That(TextFeatures.GlobalFeature(hidden, mask).ShapeArray, Is.EqualTo(new[] { 2, 32 }));
    }
}
