using MaMA.Data.Rsna;
using MaMA.Data.Synthetic;

namespace MaMA.Data.Tests.Synthetic;

/// <summary>The synthetic RSNA-Mammo view reads back as an RSNA folder, one row per labelled 2D image, cancer from its BI-RADS.</summary>
[TestFixture]
public sealed class SyntheticRsnaTests
{
    [Test]
    public void TheViewReadsBackWithCancerFromTheBirads()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-synth-rsna-" + Guid.NewGuid().ToString("N"));
        try
        {
            SynthSummary embed = SyntheticEmbed.Write(dir, new SynthOptions { Studies = 24, Seed = 9, Width = 64, Height = 80 });
            SyntheticRsnaSummary view = SyntheticRsna.Write(embed, Path.Combine(dir, "rsna"));
            var labelled = embed.Images.Where(i => i.ImageType == "2D" && i.Birads is not null).ToList();

            RsnaDataset rsna = RsnaDataset.Load(view.Directory);
            Assert.That(rsna.Skipped, Is.Empty);
            Assert.That(rsna.Records, Has.Count.EqualTo(labelled.Count));
            Assert.That(view.Images, Is.EqualTo(labelled.Count));
            Assert.That(rsna.Records.Select(r => r.Cancer), Is.EqualTo(labelled.Select(i => i.Birads >= 5 ? 1 : 0)));
            Assert.That(rsna.Records.Select(r => (r.Laterality, r.View)), Is.EqualTo(labelled.Select(i => (i.Laterality, i.View))));
            Assert.That(view.Cancer, Is.GreaterThan(0).And.LessThan(view.Images / 2), "some, not most, images show cancer");
            Assert.That(view.Patients, Is.EqualTo(labelled.Select(i => i.Patient).Distinct().Count()));
            // The pixels are the synthetic mammogram's.
            Assert.That(File.ReadAllBytes(rsna.Records[0].Path), Is.EqualTo(File.ReadAllBytes(Path.Combine(dir, labelled[0].RelativePath))));
            Assert.That(() => SyntheticRsna.Write(embed, view.Directory), Throws.InstanceOf<IOException>().With.Message.Contains("not empty"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
