using MaMA.Data.Text;
using MaMA.Reliability.Tests.Corpus;
using MaMA.Reliability.Tests.Support;

namespace MaMA.Reliability.Tests;

/// <summary>Every malformed tokenizer folder fails on load with the documented exception, naming the file.</summary>
public sealed class TokenizerCorpusTests
{
    private static IEnumerable<TokenizerCorpus.Case> Cases => TokenizerCorpus.All();

    [TestCaseSource(nameof(Cases))]
    public void Tokenizer(TokenizerCorpus.Case c)
    {
        using var dir = new TempFolder("tok");
        foreach ((string name, byte[] bytes) in c.Files) dir.File(name, bytes);
        Outcome o = Bounded.Run(() => MaMATokenizer.FromDirectory(dir.Path));
        Assert.That(o.Error, Is.Not.Null, "the malformed folder loaded");
        Assert.That(o.Error, Is.TypeOf(c.Error), o.Error!.ToString());
        Assert.That(o.Error!.Message, Does.Contain(c.Reason));
        Assert.That(o.Error.Message, Does.Contain(dir.Path), "the message names the file or folder");
        Expect.Allocation(o, Expect.SmallAllocation);
    }
}
