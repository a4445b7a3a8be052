using MaMA.Data.Text;

namespace MaMA.Data.Tests.Text;

[TestFixture]
public sealed class Gpt2TokenizerTests
{
    private static readonly MaMATokenizer Gpt2 = MaMATokenizer.CreateGpt2();

    [TestCase("Hello world", new[] { 15496, 995 })]
    [TestCase(" hello", new[] { 23748 })]
    [TestCase("<|endoftext|>", new[] { 50256 })]
    [TestCase("The", new[] { 464 })]
    [TestCase(" the", new[] { 262 })]
    [TestCase(".", new[] { 13 })]
    [TestCase(" ", new[] { 220 })]
    [TestCase("\n", new[] { 198 })]
    [TestCase("!", new[] { 0 })]
    [TestCase("a", new[] { 64 })]
    public void KnownGpt2Encodings(string text, int[] expected) => Assert.That(Gpt2.EncodeText(text), Is.EqualTo(expected));

    [Test]
    public void BreastSentenceEncodesToKnownIds()
    {
        // "The" 464, " breast" 9296, " is" 318, " heterogeneously" (3 pieces), " dense", "." 13;
        // the same ids come from the vocab.json + merges.txt path (Gpt2VocabularyFilesTests).
        int[] ids = Gpt2.EncodeText("The breast is heterogeneously dense.");
        Assert.That(ids, Is.EqualTo(new[] { 464, 9296, 318, 14445, 20878, 3481, 15715, 13 }));
        Assert.That(Gpt2.Decode(ids), Is.EqualTo("The breast is heterogeneously dense."));
    }

    [Test]
    public void VocabularySizesAndMaMAIdsFollowTheBaseVocabulary()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Gpt2.BaseVocabularySize, Is.EqualTo(50257));
            Assert.That(Gpt2.EndOfTextId, Is.EqualTo(50256));
            Assert.That(Gpt2.BosId, Is.EqualTo(50257));
            Assert.That(Gpt2.PadId, Is.EqualTo(50258));
            Assert.That(Gpt2.MaskId, Is.EqualTo(50259));
            Assert.That(Gpt2.SepId, Is.EqualTo(50260));
            Assert.That(Gpt2.UnkId, Is.EqualTo(50261));
            Assert.That(Gpt2.KeyId, Is.EqualTo(50262));
            Assert.That(Gpt2.VocabularySize, Is.EqualTo(50263));
        });
    }

    [Test]
    public void EachSpecialTokenIsOneWholeToken()
    {
        for (int k = 0; k < MaMASpecialTokens.AddedInOrder.Count; k++)
        {
            string token = MaMASpecialTokens.AddedInOrder[k];
            Assert.That(Gpt2.EncodeText(token), Is.EqualTo(new[] { 50257 + k }), token);
            Assert.That(Gpt2.SpecialTokens[token], Is.EqualTo(50257 + k));
        }
    }

    [Test]
    public void SpecialTokensAreMatchedInsideText()
    {
        Assert.That(Gpt2.EncodeText("x<|separatetext|>y"), Is.EqualTo(new[] { 87, 50260, 88 }));
        Assert.That(Gpt2.EncodeText("<|separatetext|><|separatetext|>"), Is.EqualTo(new[] { 50260, 50260 }));
        Assert.That(Gpt2.EncodeText("<|startoftext|>a<|endoftext|><|padtext|>"), Is.EqualTo(new[] { 50257, 64, 50256, 50258 }));
        Assert.That(Gpt2.EncodeText(" <|separatetext|> "), Is.EqualTo(new[] { 220, 50260, 220 }));
    }

    [Test]
    public void TextAroundASpecialTokenIsEncodedOnItsOwn()
    {
        // As in Hugging Face: the added token splits the text and each side is pre-tokenized alone.
        int[] left = Gpt2.EncodeText("years old");
        int[] right = Gpt2.EncodeText("  Image info");
        Assert.That(Gpt2.EncodeText("years old<|separatetext|>  Image info"), Is.EqualTo(left.Append(50260).Concat(right).ToArray()));
    }

    [Test]
    public void BrokenSpecialTokensAreOrdinaryText()
    {
        foreach (string text in new[] { "<|separatetext", "<|separatetext|", "separatetext|>", "<|SEPARATETEXT|>", "< |padtext|>" })
        {
            int[] ids = Gpt2.EncodeText(text);
            Assert.That(ids, Has.Length.GreaterThan(1), text);
            Assert.That(ids.All(id => id < 50256), Is.True, text);
            Assert.That(Gpt2.Decode(ids), Is.EqualTo(text));
        }
    }

    [Test]
    public void DecodeRoundTripsUnicodeAndSpecials()
    {
        const string text = "<|startoftext|>héllo  wörld 日本 🙂\tx<|separatetext|>\n<|endoftext|>";
        Assert.That(Gpt2.Decode(Gpt2.EncodeText(text)), Is.EqualTo(text));
    }

    [Test]
    public void LoadByNameGivesTheBuiltInVocabulary()
    {
        MaMATokenizer loaded = MaMATokenizer.Load("gpt2");
        Assert.That(loaded.EncodeText("Hello world"), Is.EqualTo(new[] { 15496, 995 }));
        Assert.That(loaded.SepId, Is.EqualTo(50260));
    }
}
