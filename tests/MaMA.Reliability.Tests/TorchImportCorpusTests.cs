using MaMA.Interop.Torch.Import;
using MaMA.Model.Checkpoints;
using MaMA.Reliability.Tests.Corpus;
using MaMA.Reliability.Tests.Support;

namespace MaMA.Reliability.Tests;

/// <summary>Every bad torch.save archive and TorchSharp .dat file fails in <see cref="CheckpointReader"/> or on reading a tensor, with an <see cref="InvalidDataException"/> naming it.</summary>
public sealed class TorchImportCorpusTests
{
    private static IEnumerable<TorchCorpus.Case> Cases => TorchCorpus.All();

    [TestCaseSource(nameof(Cases))]
    public void TorchCheckpoint(TorchCorpus.Case c)
    {
        using var dir = new TempFolder("pt");
        string path = dir.File(c.Name + c.Extension, c.Bytes);
        Outcome o = Bounded.Run(() =>
        {
            using CheckpointSource src = CheckpointReader.Open(path);
            foreach (TensorSource t in src.Tensors.Values) t.Use(x => x.Numel);
        });
        var e = Expect.Error<InvalidDataException>(o, c.Reason);
        Assert.That(e.Message, Does.Contain(path));
    }

    [Test]
    public void ValidArchiveStillReads()
    {
        using var dir = new TempFolder("pt");
        string path = dir.File("ok.pth", TorchCorpus.Valid());
        using CheckpointSource src = CheckpointReader.Open(path);
        Assert.That(src.Tensors["w"].Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(src.Tensors["w"].Use(t => t.Numel), Is.EqualTo(6));
    }

    [Test]
    public void LegacyPickleFormatIsNamed()
    {
        using var dir = new TempFolder("pt");
        string path = dir.File("old.pth", [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]);
        Outcome o = Bounded.Run(() => TorchZipCheckpoint.Open(path));
        Expect.Error<InvalidDataException>(o, "legacy torch.save format");
    }
}
