using MaMA.Data.Tests.Text.Fixtures;
using MaMA.Data.Text;

namespace MaMA.Data.Tests.Text;

[TestFixture]
public sealed class TokenizerFileErrorTests
{
    private static MaMATokenizer LoadFiles(TempFolder f) => MaMATokenizer.FromVocabAndMerges(f.File("vocab.json"), f.File("merges.txt"));

    [Test]
    public void MissingVocabNamesTheFile()
    {
        using var f = new TempFolder();
        TinyBpeFixture.WriteTo(f.Path, vocab: false);
        var e = Assert.Throws<FileNotFoundException>(() => LoadFiles(f));
        Assert.That(e!.Message, Does.Contain(f.File("vocab.json")));
    }

    [Test]
    public void MissingMergesNamesTheFile()
    {
        using var f = new TempFolder();
        TinyBpeFixture.WriteTo(f.Path, merges: false);
        var e = Assert.Throws<FileNotFoundException>(() => LoadFiles(f));
        Assert.That(e!.Message, Does.Contain(f.File("merges.txt")));
    }

    [TestCase("{ \"a\": 0, ", "not valid JSON")]
    [TestCase("[\"a\", \"b\"]", "expected a JSON object")]
    [TestCase("{ \"a\": \"zero\" }", "\"a\" must be a non-negative integer")]
    [TestCase("{ \"a\": -1 }", "\"a\" must be a non-negative integer")]
    [TestCase("{ \"a\": 1.5 }", "\"a\" must be a non-negative integer")]
    [TestCase("{ \"a\": 0, \"b\": 0 }", "id 0 is given to both \"a\" and \"b\"")]
    [TestCase("{ \"a\": 0, \"a\": 1 }", "\"a\" appears twice")]
    [TestCase("{ }", "empty")]
    public void MalformedVocabNamesTheFileAndTheProblem(string vocab, string problem)
    {
        using var f = new TempFolder();
        TinyBpeFixture.WriteTo(f.Path);
        File.WriteAllText(f.File("vocab.json"), vocab);
        var e = Assert.Throws<InvalidDataException>(() => LoadFiles(f));
        Assert.That(e!.Message, Does.Contain(f.File("vocab.json")).And.Contain(problem));
    }

    [TestCase("#version: 0.2\nt h\nth e extra\n", "line 3", "expected two tokens")]
    [TestCase("t h\nthe\n", "line 2", "expected two tokens")]
    [TestCase("t h\nt  h\n", "line 2", "expected two tokens")]
    [TestCase("t h\nq h\n", "line 2", "\"q\", which is not in the vocabulary")]
    [TestCase("t h\nd h\n", "line 2", "\"dh\", which is not in the vocabulary")]
    public void MalformedMergesNamesTheFileAndLine(string merges, string line, string problem)
    {
        using var f = new TempFolder();
        TinyBpeFixture.WriteTo(f.Path);
        File.WriteAllText(f.File("merges.txt"), merges);
        var e = Assert.Throws<InvalidDataException>(() => LoadFiles(f));
        Assert.That(e!.Message, Does.Contain(f.File("merges.txt")).And.Contain(line).And.Contain(problem));
    }

    [Test]
    public void MergesWithWindowsLineEndingsAreRead()
    {
        using var f = new TempFolder();
        TinyBpeFixture.WriteTo(f.Path);
        File.WriteAllText(f.File("merges.txt"), TinyBpeFixture.MergesTxt.Replace("\n", "\r\n"));
        Assert.That(LoadFiles(f).EncodeText(" bat"), Is.EqualTo(new[] { 14, 26 }));
    }

    [TestCase("{", typeof(InvalidDataException), "not valid JSON")]
    [TestCase("{ \"version\": \"1.0\" }", typeof(InvalidDataException), "missing the \"model\" object")]
    [TestCase("{ \"model\": { \"type\": \"WordPiece\" } }", typeof(NotSupportedException), "model.type \"WordPiece\"")]
    [TestCase("{ \"pre_tokenizer\": { \"type\": \"ByteLevel\" }, \"model\": { \"type\": \"BPE\", \"merges\": [] } }", typeof(InvalidDataException), "model.vocab")]
    [TestCase("{ \"pre_tokenizer\": { \"type\": \"ByteLevel\" }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 } } }", typeof(InvalidDataException), "model.merges")]
    [TestCase("{ \"pre_tokenizer\": { \"type\": \"ByteLevel\" }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [\"a\"] } }", typeof(InvalidDataException), "model.merges[0]")]
    [TestCase("{ \"pre_tokenizer\": { \"type\": \"ByteLevel\" }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [[\"a\", \"a\"]] } }", typeof(InvalidDataException), "\"aa\", which is not in the vocabulary")]
    [TestCase("{ \"pre_tokenizer\": { \"type\": \"Whitespace\" }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [] } }", typeof(NotSupportedException), "pre_tokenizer \"Whitespace\"")]
    [TestCase("{ \"pre_tokenizer\": { \"type\": \"ByteLevel\", \"add_prefix_space\": true }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [] } }", typeof(NotSupportedException), "add_prefix_space")]
    [TestCase("{ \"normalizer\": { \"type\": \"NFC\" }, \"pre_tokenizer\": { \"type\": \"ByteLevel\" }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [] } }", typeof(NotSupportedException), "normalizer")]
    [TestCase("{ \"added_tokens\": [ { \"content\": \"x\" } ], \"pre_tokenizer\": { \"type\": \"ByteLevel\" }, \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [] } }", typeof(InvalidDataException), "added_tokens[0]")]
    public void MalformedTokenizerJsonNamesTheFile(string json, Type exception, string problem)
    {
        using var f = new TempFolder();
        File.WriteAllText(f.File("tokenizer.json"), json);
        var e = Assert.Throws(exception, () => MaMATokenizer.FromTokenizerJson(f.File("tokenizer.json")));
        Assert.That(e!.Message, Does.Contain(f.File("tokenizer.json")).And.Contain(problem));
    }

    [Test]
    public void MissingTokenizerJsonNamesTheFile()
    {
        using var f = new TempFolder();
        var e = Assert.Throws<FileNotFoundException>(() => MaMATokenizer.FromTokenizerJson(f.File("tokenizer.json")));
        Assert.That(e!.Message, Does.Contain(f.File("tokenizer.json")));
    }

    [Test]
    public void EmptyFolderSaysWhatIsMissing()
    {
        using var f = new TempFolder();
        var e = Assert.Throws<FileNotFoundException>(() => MaMATokenizer.FromDirectory(f.Path));
        Assert.That(e!.Message, Does.Contain(f.Path).And.Contain("tokenizer.json").And.Contain("vocab.json + merges.txt"));
        Assert.Throws<DirectoryNotFoundException>(() => MaMATokenizer.FromDirectory(f.File("nowhere")));
        Assert.Throws<FileNotFoundException>(() => MaMATokenizer.Load(f.File("nowhere")));
    }
}
