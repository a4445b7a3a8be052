using MaMA.Data.Embed;
using MaMA.Data.Images.Transforms;
using MaMA.Data.Loading;
using MaMA.Data.Reports;
using MaMA.Data.Synthetic;
using MaMA.Data.Text;

namespace MaMA.Data.Tests.Loading;

/// <summary>The loader on a small synthetic EMBED folder: contents, determinism, pairing, masking.</summary>
[TestFixture]
public sealed class MammoLoaderTests
{
    private const int Crop = 56;
    private string _dir = "";
    private IReadOnlyList<EmbedRecord> _records = [];
    private MaMATokenizer _tokenizer = null!;

    [OneTimeSetUp]
    public void WriteDataset()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-loader-" + Guid.NewGuid().ToString("N"));
        SyntheticEmbed.Write(_dir, new SynthOptions { Studies = 12, Seed = 5, Width = 96, Height = 120 });
        _records = EmbedDataset.Load(_dir).Records;
        _tokenizer = MaMATokenizer.CreateGpt2();
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_dir, recursive: true);

    private static LoaderOptions Options(bool training = true, int workers = 2, ulong seed = 7) => new()
    {
        BatchSize = 8,
        Seed = seed,
        Training = training,
        Workers = workers,
        Prefetch = 2,
        Transform = new MammoTransformOptions { ImageSize = 64, CropSize = Crop },
    };

    [Test]
    public void BatchesHoldViewsCaptionsAndLabelsOfTheRightShapes()
    {
        var loader = new MammoLoader(_records, _tokenizer, Options());
        Assert.That(_records.Count, Is.GreaterThanOrEqualTo(16), "the synthetic folder keeps most of its 48 images");
        List<MammoBatch> batches = loader.Epoch(0).ToList();
        Assert.That(batches, Has.Count.EqualTo(_records.Count / 8), "training drops the last partial batch");
        MammoBatch b = batches[0];
        Assert.That(b.View1, Has.Length.EqualTo(8 * 3 * Crop * Crop));
        Assert.That(b.View1.Min(), Is.GreaterThanOrEqualTo(-1f));
        Assert.That(b.View1.Max(), Is.LessThanOrEqualTo(1f));
        for (int i = 0; i < b.Count; i++)
        {
            EmbedRecord r = _records[b.RecordIndices[i]];
            Assert.That(b.Birads[i], Is.EqualTo(r.Birads));
            Assert.That(b.Density[i], Is.EqualTo(r.DensityLabel ?? -1));
            EncodedCaption expected = _tokenizer.EncodeCaption(b.Reports[i]);
            Assert.That(b.TokenIds.AsSpan(i * 144, 144).ToArray(), Is.EqualTo(expected.Ids));
            Assert.That(b.AttentionMask.AsSpan(i * 144, 144).ToArray(), Is.EqualTo(expected.AttentionMask));
            Assert.That(b.SentencePositions[i], Is.EqualTo(expected.SepPositions));
            Assert.That(b.SentencePositions[i], Is.Not.Empty);
            int partner = b.PartnerIndices[i];
            if (partner != b.RecordIndices[i]) Assert.That(_records[partner].Study, Is.EqualTo(r.Study), "pairs come from the same study");
        }
    }

    /// <summary>
    /// A data-parallel rank's loader (RowStart / RowCount) decodes exactly rows [start, start + count)
    /// of each whole batch, bit for bit, in every batch of the epoch, and the same number of batches.
    /// </summary>
    [TestCase(0, 3)]
    [TestCase(3, 5)]
    [TestCase(6, 2)]
    public void RowSliceEqualsThoseRowsOfTheWholeBatch(int start, int count)
    {
        List<MammoBatch> whole = new MammoLoader(_records, _tokenizer, Options()).Epoch(1).ToList();
        List<MammoBatch> slice = new MammoLoader(_records, _tokenizer, Options() with { RowStart = start, RowCount = count }).Epoch(1).ToList();
        Assert.That(slice, Has.Count.EqualTo(whole.Count));
        int pixels = 3 * Crop * Crop, tokens = 144;
        for (int b = 0; b < whole.Count; b++)
        {
            MammoBatch w = whole[b], r = slice[b];
            Assert.That(r.Count, Is.EqualTo(count), $"batch {b}");
            Assert.That(r.RecordIndices, Is.EqualTo(w.RecordIndices.Skip(start).Take(count)), $"batch {b} records");
            Assert.That(r.PartnerIndices, Is.EqualTo(w.PartnerIndices.Skip(start).Take(count)), $"batch {b} partners");
            Assert.That(r.View1, Is.EqualTo(w.View1.AsSpan(start * pixels, count * pixels).ToArray()), $"batch {b} view 1");
            Assert.That(r.View2, Is.EqualTo(w.View2.AsSpan(start * pixels, count * pixels).ToArray()), $"batch {b} view 2");
            Assert.That(r.TokenIds, Is.EqualTo(w.TokenIds.AsSpan(start * tokens, count * tokens).ToArray()), $"batch {b} tokens");
            Assert.That(r.AttentionMask, Is.EqualTo(w.AttentionMask.AsSpan(start * tokens, count * tokens).ToArray()), $"batch {b} mask");
            Assert.That(r.SentencePositions, Is.EqualTo(w.SentencePositions.Skip(start).Take(count)), $"batch {b} sentences");
            Assert.That(r.Birads, Is.EqualTo(w.Birads.Skip(start).Take(count)), $"batch {b} BI-RADS");
        }
    }

    [TestCase(-1, 2)]
    [TestCase(0, 0)]
    [TestCase(6, 3)]
    public void RowSliceOutsideTheBatchIsRefused(int start, int count) =>
        Assert.That(() => new MammoLoader(_records, _tokenizer, Options() with { RowStart = start, RowCount = count }),
            Throws.ArgumentException.With.Message.Contains("inside a batch of 8"));

    [Test]
    public void SameSeedSameBatchesWhateverTheWorkerCount()
    {
        MammoBatch a = new MammoLoader(_records, _tokenizer, Options(workers: 1)).Epoch(1).First();
        MammoBatch b = new MammoLoader(_records, _tokenizer, Options(workers: 3)).Epoch(1).First();
        Assert.That(b.RecordIndices, Is.EqualTo(a.RecordIndices));
        Assert.That(b.PartnerIndices, Is.EqualTo(a.PartnerIndices));
        Assert.That(b.View1, Is.EqualTo(a.View1));
        Assert.That(b.View2, Is.EqualTo(a.View2));
        Assert.That(b.TokenIds, Is.EqualTo(a.TokenIds));
        MammoBatch c = new MammoLoader(_records, _tokenizer, Options(seed: 8)).Epoch(1).First();
        Assert.That(c.View1, Is.Not.EqualTo(a.View1), "another seed gives other crops");
        MammoBatch d = new MammoLoader(_records, _tokenizer, Options()).Epoch(2).First();
        Assert.That(d.RecordIndices, Is.Not.EqualTo(a.RecordIndices), "each epoch has its own order");
    }

    [Test]
    public void ResumingMidEpochGivesTheSameLaterBatches()
    {
        var loader = new MammoLoader(_records, _tokenizer, Options());
        MammoBatch full = loader.Epoch(3).Skip(1).First();
        MammoBatch resumed = loader.Epoch(3, startBatch: 1).First();
        Assert.That(resumed.RecordIndices, Is.EqualTo(full.RecordIndices));
        Assert.That(resumed.View2, Is.EqualTo(full.View2));
    }

    [Test]
    public void AboutHalfOfTheSecondViewsComeFromAnotherImageOfTheStudy()
    {
        var loader = new MammoLoader(_records, _tokenizer, Options());
        int pairs = 0, total = 0;
        for (int epoch = 0; epoch < 6; epoch++)
            foreach (MammoBatch b in loader.Epoch(epoch))
                for (int i = 0; i < b.Count; i++, total++)
                    if (b.PartnerIndices[i] != b.RecordIndices[i]) pairs++;
        // Every synthetic study has 4 images, so every sample has candidates: p = 0.5.
        double fraction = (double)pairs / total;
        Assert.That(fraction, Is.InRange(0.5 - 4 * Math.Sqrt(0.25 / total), 0.5 + 4 * Math.Sqrt(0.25 / total)));
    }

    [Test]
    public void TrainingMasksMetaInformationAndEvaluationDoesNot()
    {
        var train = new MammoLoader(_records, _tokenizer, Options() with { Masking = new MetaMasking(1.0, 1.0, 3) });
        MammoBatch masked = train.Epoch(0).First();
        Assert.That(masked.Reports, Has.All.Contains("This patient is unknown, unknown, and unknown years old."));
        var eval = new MammoLoader(_records, _tokenizer, Options(training: false));
        List<MammoBatch> batches = eval.Epoch(0).ToList();
        Assert.That(batches.Sum(b => b.Count), Is.EqualTo(_records.Count), "evaluation keeps the last partial batch");
        MammoBatch first = batches[0];
        Assert.That(first.RecordIndices, Is.EqualTo(Enumerable.Range(0, first.Count).ToArray()), "evaluation keeps dataset order");
        Assert.That(first.Reports[0], Is.EqualTo(_records[0].Report.Text));
        Assert.That(first.View2, Is.EqualTo(first.View1));
    }

    [Test]
    public void AnUnreadableImageFailsNamingTheFile()
    {
        string missing = Path.Combine(_dir, "no-such.png");
        var loader = new MammoLoader(_records, _tokenizer, Options(), path => path == _records[0].Path
            ? throw new MaMA.Data.Images.ImageReadException(missing, "cannot be opened")
            : MaMA.Data.Images.ImageReader.ReadGrey8(path));
        // The reader's own exception, not the wrapper of the parallel workers: callers catch it by type.
        var e = Assert.Throws<MaMA.Data.Images.ImageReadException>(() => loader.Epoch(0).ToList())!;
        Assert.That(e.Message, Does.Contain("no-such.png"));
    }

    [Test]
    public void ThePrefetchQueueBoundsHowFarTheProducerRunsAhead()
    {
        int reads = 0;
        var loader = new MammoLoader(_records, _tokenizer, Options() with { Prefetch = 1 }, path =>
        {
            Interlocked.Increment(ref reads);
            return MaMA.Data.Images.ImageReader.ReadGrey8(path);
        });
        Assert.That(loader.BatchesPerEpoch, Is.GreaterThanOrEqualTo(4));
        using IEnumerator<MammoBatch> batches = loader.Epoch(0).GetEnumerator();
        Assert.That(batches.MoveNext(), Is.True);
        Thread.Sleep(1500); // the producer may fill the queue (1 batch) and build one more, then must wait
        // At most 2 images per sample (view 1 and a partner): consumed + queued + in progress = 3 batches.
        Assert.That(Volatile.Read(ref reads), Is.LessThanOrEqualTo(3 * 8 * 2));
    }

    [Test]
    public void StoppingEarlyStopsTheProducer()
    {
        var loader = new MammoLoader(_records, _tokenizer, Options());
        int read = 0;
        foreach (MammoBatch _ in loader.Epoch(0))
            if (++read == 1) break;
        Assert.That(read, Is.EqualTo(1));
    }
}
