using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Reliability.Tests.Corpus;
using MaMA.Reliability.Tests.Support;

namespace MaMA.Reliability.Tests;

/// <summary>Every bad safetensors file is an <see cref="InvalidDataException"/> that names it and says why.</summary>
public sealed class SafetensorsCorpusTests
{
    private static IEnumerable<SafetensorsCorpus.Case> Cases => SafetensorsCorpus.All();

    [TestCaseSource(nameof(Cases))]
    public void Safetensors(SafetensorsCorpus.Case c)
    {
        using var dir = new TempFolder("st");
        string path = dir.File(c.Name + ".safetensors", c.Bytes);
        Outcome o = Bounded.Run(() =>
        {
            using SafetensorsFile f = Engine.Serialization.Safetensors.Open(path);
            foreach (string name in f.Names) f.Load(name).Dispose();
        });
        var e = Expect.Error<InvalidDataException>(o, c.Reason);
        Assert.That(e.Message, Does.StartWith(path + ": not a valid safetensors file"));
    }

    [Test]
    public void ValidFileStillReads()
    {
        using var dir = new TempFolder("st");
        string path = System.IO.Path.Combine(dir.Path, "ok.safetensors");
        Engine.Serialization.Safetensors.Write(path, new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]) });
        using SafetensorsFile f = Engine.Serialization.Safetensors.Open(path);
        using Tensor t = f.Load("w");
        Assert.That(t.ToArray<float>(), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
    }
}
