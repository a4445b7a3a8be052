using MaMA.Data.Reports;

namespace MaMA.Data.Tests.Reports;

[TestFixture]
public sealed class ZeroShotPromptsTests
{
    private static readonly string Base = ReportBuilder.Build(ReportBuilderTests.Fields(4, 3)).Base;

    [Test]
    public void BiradsPromptsUseTheImagesOwnBase()
    {
        IReadOnlyList<string> prompts = ZeroShotPrompts.Birads(Base);
        Assert.That(prompts, Has.Count.EqualTo(7));
        Assert.That(prompts[0], Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is White, Non-Hispanic or Latino, and 57 years old.  Image info: This is a 2D full-field digital mammogram of the left breast with CC view.  Findings: The mammogram shows that an additional imaging is recommended.  Impressions: BI-RADS Category 0: additional imaging required. Overall Assessment: Additional imaging is recommended. "));
        Assert.That(prompts[5], Is.EqualTo(Base
            + "Findings: The mammogram shows that a highly suggestive of malignancy is present, a biopsy is recommended.  Impressions: BI-RADS Category 5: highly suggestive of malignancy. Overall Assessment: Highly suggestive of malignancy. "));
        Assert.That(prompts[6], Is.EqualTo(Base
            + "Findings: The mammogram shows that a known biopsy-proven malignant mass is present.  Impressions: BI-RADS Category 6: known biopsy-proven malignancy. Overall Assessment: Known biopsy-proven malignancy. "));
        // Each BI-RADS prompt equals a report of that class without its composition part.
        for (int k = 0; k < 7; k++)
        {
            StructuredReport r = ReportBuilder.Build(ReportBuilderTests.Fields(k, 3));
            Assert.That(prompts[k], Is.EqualTo(r.Base + r.Findings + r.Impressions + r.Assessment));
        }
    }

    [Test]
    public void DensityPrompts()
    {
        IReadOnlyList<string> prompts = ZeroShotPrompts.Density(Base);
        Assert.That(prompts, Is.EqualTo(new[]
        {
            Base + "Breast composition: The breast is almost entirely fat. ",
            Base + "Breast composition: The breast is scattered fibroglandular densities. ",
            Base + "Breast composition: The breast is heterogeneously dense. This may lower the sensitivity of mammography. ",
            Base + "Breast composition: The breast is extremely dense. This may lower the sensitivity of mammography. ",
        }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ZeroShotPrompts.Density(Base, 5));
    }

    [Test]
    public void RsnaPromptsHaveAnEmptyBase()
    {
        Assert.That(ZeroShotPrompts.Rsna(), Is.EqualTo(new[]
        {
            "Findings: The mammogram shows that Cancer negative: overall healthy or just benign finding Impressions: BI-RADS Category N or B: Negative or Benign. Overall Assessment: Negative or Benign",
            "Findings: The mammogram shows that Cancer positive: screening image with known biopsy-proven malignancy or suspicious abnormality found Impressions: BI-RADS Category A: Additional imaging required with biopsy-proven malignancy or suspicious abnormality found. Overall Assessment: Additional imaging required with biopsy-proven malignancy or suspicious abnormality found",
        }));
    }
}
