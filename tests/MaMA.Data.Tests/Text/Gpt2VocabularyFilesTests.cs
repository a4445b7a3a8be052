using System.Text;
using MaMA.Data.Text;

namespace MaMA.Data.Tests.Text;

/// <summary>
/// The vocab.json + merges.txt and tokenizer.json loaders (byte-level BPE over merges) against the
/// built-in tiktoken GPT-2 encoder (BPE over ranks), on the full GPT-2 vocabulary.
/// </summary>
[TestFixture]
public sealed class Gpt2VocabularyFilesTests
{
    private MaMATokenizer _tiktoken = null!;
    private MaMATokenizer _files = null!;
    private MaMATokenizer _json = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        string dir = Gpt2ReferenceFiles.Directory;
        _tiktoken = MaMATokenizer.CreateGpt2();
        _files = MaMATokenizer.FromVocabAndMerges(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"));
        _json = MaMATokenizer.FromTokenizerJson(Path.Combine(dir, "json", "tokenizer.json"));
    }

    [Test]
    public void IdsAndSizesMatchTheBuiltInVocabulary()
    {
        foreach (MaMATokenizer tok in new[] { _files, _json })
        {
            Assert.That(tok.BaseVocabularySize, Is.EqualTo(50257));
            Assert.That(tok.EndOfTextId, Is.EqualTo(50256));
            Assert.That(tok.SpecialTokens, Is.EquivalentTo(_tiktoken.SpecialTokens));
            Assert.That(tok.EncodeText("Hello world"), Is.EqualTo(new[] { 15496, 995 }));
            Assert.That(tok.EncodeText(" hello"), Is.EqualTo(new[] { 23748 }));
            Assert.That(tok.EncodeText("The breast is heterogeneously dense."), Is.EqualTo(new[] { 464, 9296, 318, 14445, 20878, 3481, 15715, 13 }));
        }
    }

    [Test]
    public void CaptionsEncodeIdentically()
    {
        string[] reports =
        [
            CaptionEncodingTests.Report,
            "Findings: The mammogram shows that Cancer negative: overall healthy or just benign finding Impressions: BI-RADS Category N or B: Negative or Benign. Overall Assessment: Negative or Benign",
            "Procedure reported: MG Diagnostic Left; Reason for procedure: diagnostic; Patient info: This patient is unknown, Hispanic or Latino, and unknown years old.  ",
        ];
        foreach (string report in reports)
        {
            int[] expected = _tiktoken.EncodeCaption(report).Ids;
            Assert.That(_files.EncodeCaption(report).Ids, Is.EqualTo(expected));
            Assert.That(_json.EncodeCaption(report).Ids, Is.EqualTo(expected));
        }
    }

    [Test]
    public void RandomTextEncodesIdentically()
    {
        var random = new Random(1234);
        const string alphabet = "abcdefghijklmnopqrstuvwxyz ABCXYZ.,;:'!?-/()0123456789\n\t  éüß日本🙂's're";
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder();
            int length = random.Next(1, 48);
            for (int i = 0; i < length; i++)
            {
                char c = alphabet[random.Next(alphabet.Length)];
                if (char.IsSurrogate(c))
                {
                    sb.Append("🙂");
                    continue;
                }
                sb.Append(c);
            }
            string text = sb.ToString();
            int[] expected = _tiktoken.EncodeText(text);
            Assert.That(_files.EncodeText(text), Is.EqualTo(expected), text);
            Assert.That(_json.EncodeText(text), Is.EqualTo(expected), text);
            Assert.That(_files.Decode(expected), Is.EqualTo(text));
        }
    }
}
