using MaMA.Data.Tests.Text.Fixtures;
using MaMA.Data.Text;

namespace MaMA.Data.Tests.Text;

/// <summary>Exact BPE merges on the hand-written fixture (the expected ids are worked out in <see cref="TinyBpeFixture"/>).</summary>
[TestFixture]
public sealed class TinyBpeTests
{
    private TempFolder _folder = null!;
    private MaMATokenizer _fromFiles = null!;
    private MaMATokenizer _fromJson = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _folder = new TempFolder();
        TinyBpeFixture.WriteTo(_folder.Path, tokenizerJson: true);
        _fromFiles = MaMATokenizer.FromVocabAndMerges(_folder.File("vocab.json"), _folder.File("merges.txt"));
        _fromJson = MaMATokenizer.FromTokenizerJson(_folder.File("tokenizer.json"));
    }

    [OneTimeTearDown]
    public void TearDown() => _folder.Dispose();

    [TestCase("the", new[] { 13 })]
    [TestCase(" breast", new[] { 17, 18 })]
    [TestCase(" is", new[] { 20 })]
    [TestCase(" dense", new[] { 23, 24 })]
    [TestCase(".", new[] { 0 })]
    [TestCase(" he", new[] { 11, 25 })]
    [TestCase(" beat", new[] { 14, 15, 10 })]
    [TestCase(" bat", new[] { 14, 26 })]
    [TestCase("eat", new[] { 15, 10 })]
    [TestCase("the breast is dense.", new[] { 13, 17, 18, 20, 23, 24, 0 })]
    [TestCase("the  breast", new[] { 13, 11, 17, 18 })]
    public void MergesApplyInRankOrder(string text, int[] expected)
    {
        Assert.That(_fromFiles.EncodeText(text), Is.EqualTo(expected), "vocab.json + merges.txt");
        Assert.That(_fromJson.EncodeText(text), Is.EqualTo(expected), "tokenizer.json");
    }

    [Test]
    public void TokenizerJsonAndVocabMergesAgree()
    {
        string[] texts = ["the breast is dense. he beat the bat", "eat  eat the", "<|startoftext|>the breast<|separatetext|><|endoftext|>", "", "   "];
        foreach (string text in texts)
        {
            Assert.That(_fromJson.EncodeText(text), Is.EqualTo(_fromFiles.EncodeText(text)), text);
        }
        Assert.That(_fromJson.SpecialTokens, Is.EquivalentTo(_fromFiles.SpecialTokens));
    }

    [Test]
    public void MaMATokensComeRightAfterTheBaseVocabulary()
    {
        foreach (MaMATokenizer tok in new[] { _fromFiles, _fromJson })
        {
            Assert.Multiple(() =>
            {
                Assert.That(tok.BaseVocabularySize, Is.EqualTo(TinyBpeFixture.BaseSize));
                Assert.That(tok.EndOfTextId, Is.EqualTo(TinyBpeFixture.EndOfTextId));
                Assert.That(new[] { tok.BosId, tok.PadId, tok.MaskId, tok.SepId, tok.UnkId, tok.KeyId }, Is.EqualTo(new[] { 28, 29, 30, 31, 32, 33 }));
                Assert.That(tok.VocabularySize, Is.EqualTo(34));
            });
        }
    }

    [Test]
    public void CaptionOnTheFixtureIsExact()
    {
        EncodedCaption c = _fromFiles.EncodeCaption("the breast is dense.", maxLength: 12);
        Assert.Multiple(() =>
        {
            // BOS the Ġbrea st Ġis Ġden se SEP EOS, then 3 x PAD.
            Assert.That(c.Ids, Is.EqualTo(new[] { 28, 13, 17, 18, 20, 23, 24, 31, 27, 29, 29, 29 }));
            Assert.That(c.AttentionMask, Is.EqualTo(new[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }));
            Assert.That(c.SepPositions, Is.EqualTo(new[] { 7 }));
            Assert.That(c.Length, Is.EqualTo(9));
            Assert.That(c.Truncated, Is.False);
        });
    }

    [Test]
    public void TruncationKeepsTheHeadAndDropsEos()
    {
        EncodedCaption cut = _fromFiles.EncodeCaption("the breast is dense.", maxLength: 8);
        Assert.That(cut.Ids, Is.EqualTo(new[] { 28, 13, 17, 18, 20, 23, 24, 31 }));
        Assert.That(cut.SepPositions, Is.EqualTo(new[] { 7 }));
        Assert.That(cut.Truncated, Is.True);
        Assert.That(cut.FullLength, Is.EqualTo(9));

        EncodedCaption shorter = _fromFiles.EncodeCaption("the breast is dense.", maxLength: 5);
        Assert.That(shorter.Ids, Is.EqualTo(new[] { 28, 13, 17, 18, 20 }));
        Assert.That(shorter.SepPositions, Is.Empty);
        Assert.That(shorter.AttentionMask.Sum(), Is.EqualTo(5));
    }

    [Test]
    public void ByteWithoutATokenIsAClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => _fromFiles.EncodeText("the box"));
        Assert.That(e!.Message, Does.Contain("0x6F").And.Contain("vocab.json"));
    }

    [Test]
    public void FolderPrefersTokenizerJsonAndFallsBackToVocabMerges()
    {
        Assert.That(MaMATokenizer.FromDirectory(_folder.Path).Source, Does.EndWith("tokenizer.json"));
        Assert.That(MaMATokenizer.Load(_folder.Path).EncodeText(" bat"), Is.EqualTo(new[] { 14, 26 }));
        using var only = new TempFolder();
        TinyBpeFixture.WriteTo(only.Path);
        Assert.That(MaMATokenizer.FromDirectory(only.Path).Source, Does.Contain("vocab.json").And.Contain("merges.txt"));
        Assert.That(MaMATokenizer.Load(only.File("vocab.json")).EncodeText("eat"), Is.EqualTo(new[] { 15, 10 }));
    }

    [Test]
    public void ExistingMaMATokensKeepTheirIds()
    {
        // A tokenizer.json saved after MaMA's add_special_tokens already lists the six tokens.
        using var folder = new TempFolder();
        string json = TinyBpeFixture.TokenizerJson.Replace(
            """{ "id": 27, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true }""",
            """
            { "id": 27, "content": "<|endoftext|>", "special": true },
            { "id": 28, "content": "<|startoftext|>", "special": true },
            { "id": 29, "content": "<|padtext|>", "special": true },
            { "id": 30, "content": "<|masktext|>", "special": true },
            { "id": 31, "content": "<|separatetext|>", "special": true },
            { "id": 32, "content": "<|unknowntext|>", "special": true },
            { "id": 33, "content": "<|keytext|>", "special": true }
            """);
        File.WriteAllText(folder.File("tokenizer.json"), json);
        MaMATokenizer tok = MaMATokenizer.FromTokenizerJson(folder.File("tokenizer.json"));
        Assert.That(new[] { tok.BosId, tok.PadId, tok.MaskId, tok.SepId, tok.UnkId, tok.KeyId }, Is.EqualTo(new[] { 28, 29, 30, 31, 32, 33 }));
        Assert.That(tok.VocabularySize, Is.EqualTo(34));
    }
}
