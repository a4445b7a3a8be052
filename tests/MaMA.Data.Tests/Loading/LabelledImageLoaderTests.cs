using MaMA.Data.Embed;
using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;
using MaMA.Data.Loading;
using MaMA.Data.Synthetic;
using MaMA.Data.Text;

namespace MaMA.Data.Tests.Loading;

/// <summary>
/// The probing loader: its crops are MammoLoader's first view bit for bit (same records, seed and
/// transform), in the same epoch order, so probes trained on it reproduce the earlier ones; labels
/// and record indices travel with the rows; a bad image names its file.
/// </summary>
[TestFixture]
public sealed class LabelledImageLoaderTests
{
    private string _dir = "";
    private IReadOnlyList<EmbedRecord> _records = [];

    [OneTimeSetUp]
    public void WriteDataset()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-labelled-" + Guid.NewGuid().ToString("N"));
        SyntheticEmbed.Write(_dir, new SynthOptions { Studies = 8, Seed = 11, Width = 80, Height = 100 });
        _records = EmbedDataset.Load(_dir).Records;
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_dir, recursive: true);

    private static LoaderOptions Options(bool training, int workers = 2) => new()
    {
        BatchSize = 5, Seed = 3, Training = training, Workers = workers, Prefetch = 2,
        Transform = new MammoTransformOptions { ImageSize = 48, CropSize = 42 },
    };

    private List<LabelledImage> Labelled() => _records.Select(r => new LabelledImage(r.Path, r.Birads)).ToList();

    [TestCase(true)]
    [TestCase(false)]
    public void RowsAreMammoLoadersFirstViewInTheSameOrder(bool training)
    {
        var pairs = new MammoLoader(_records, MaMATokenizer.CreateGpt2(), Options(training) with { PairProbability = 0.5 });
        var images = new LabelledImageLoader(Labelled(), Options(training, workers: 1));
        Assert.That(images.BatchesPerEpoch, Is.EqualTo(pairs.BatchesPerEpoch));
        for (int epoch = 0; epoch < 2; epoch++)
        {
            Assert.That(images.EpochOrder(epoch), Is.EqualTo(pairs.EpochOrder(epoch)));
            List<MammoBatch> expected = pairs.Epoch(epoch).ToList();
            List<ImageBatch> actual = images.Epoch(epoch).ToList();
            Assert.That(actual, Has.Count.EqualTo(expected.Count));
            for (int b = 0; b < expected.Count; b++)
            {
                Assert.That(actual[b].RecordIndices, Is.EqualTo(expected[b].RecordIndices), $"epoch {epoch} batch {b}");
                Assert.That(actual[b].Pixels, Is.EqualTo(expected[b].View1), $"epoch {epoch} batch {b}");
                Assert.That(actual[b].Labels, Is.EqualTo(expected[b].Birads));
            }
        }
        if (training) Assert.That(images.EpochOrder(1), Is.Not.EqualTo(images.EpochOrder(0)), "each epoch reshuffles");
    }

    [Test]
    public void AResumedEpochStartsAtItsBatchAndEvaluationKeepsTheLastPartialBatch()
    {
        var training = new LabelledImageLoader(Labelled(), Options(true));
        List<ImageBatch> whole = training.Epoch(1).ToList();
        List<ImageBatch> tail = training.Epoch(1, startBatch: 2).ToList();
        Assert.That(tail.Select(b => b.Pixels), Is.EqualTo(whole.Skip(2).Select(b => b.Pixels)));
        Assert.That(whole.All(b => b.Count == 5), Is.True, "training drops the partial batch");

        var eval = new LabelledImageLoader(Labelled(), Options(false));
        List<ImageBatch> all = eval.Epoch(0).ToList();
        Assert.That(all.SelectMany(b => b.RecordIndices), Is.EqualTo(Enumerable.Range(0, _records.Count)));
        Assert.That(all[^1].Count, Is.EqualTo(_records.Count % 5 == 0 ? 5 : _records.Count % 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => eval.Epoch(0, startBatch: all.Count + 1));
    }

    [Test]
    public void AnUnreadableImageNamesItsFile()
    {
        string bad = Path.Combine(_dir, "not-an-image.png");
        File.WriteAllText(bad, "no pixels here");
        var records = Labelled().Take(4).Append(new LabelledImage(bad, 1)).ToList();
        var loader = new LabelledImageLoader(records, Options(false));
        var e = Assert.Throws<ImageReadException>(() => loader.Epoch(0).ToList())!;
        Assert.That(e.Message, Does.Contain("not-an-image.png"));
    }

    [Test]
    public void RankShardsAreRefused() =>
        Assert.Throws<ArgumentException>(() => _ = new LabelledImageLoader(Labelled(), Options(true) with { RowStart = 1, RowCount = 2 }));
}
