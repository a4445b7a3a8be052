using MaMA.Data.Reports;

namespace MaMA.Data.Tests.Reports;

[TestFixture]
public sealed class ReportBuilderTests
{
    internal static ReportFields Fields(int birads = 1, int density = 2) => new()
    {
        Procedure = "MG Screening Bilateral",
        Reason = "screening",
        Race = "White",
        Ethnicity = "Non-Hispanic or Latino",
        Age = "57",
        ImageType = "2D",
        Side = "left",
        View = "CC",
        Density = density,
        Birads = birads,
    };

    private const string Base =
        "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; "
        + "Patient info: This patient is White, Non-Hispanic or Latino, and 57 years old.  "
        + "Image info: This is a 2D full-field digital mammogram of the left breast with CC view.  ";

    [Test]
    public void NegativeScreeningReportIsExact()
    {
        StructuredReport r = ReportBuilder.Build(Fields());
        Assert.That(r.Text, Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is White, Non-Hispanic or Latino, and 57 years old.  Image info: This is a 2D full-field digital mammogram of the left breast with CC view.  Breast composition: The breast is scattered fibroglandular densities.  Findings: The mammogram shows that no significant masses, calcification, or other abnormalities are present.  Impressions: BI-RADS Category 1: negative. Overall Assessment: Negative. "));
        Assert.That(r.Base, Is.EqualTo(Base));
        Assert.That(r.Procedure, Is.EqualTo("Procedure reported: MG Screening Bilateral; "));
        Assert.That(r.Reason, Is.EqualTo("Reason for procedure: screening; "));
        Assert.That(r.PatientInfo, Is.EqualTo("Patient info: This patient is White, Non-Hispanic or Latino, and 57 years old.  "));
        Assert.That(r.ImageInfo, Is.EqualTo("Image info: This is a 2D full-field digital mammogram of the left breast with CC view.  "));
        Assert.That(r.Calcification, Is.Empty);
        Assert.That(string.Concat(r.Parts().Select(p => p.Text)), Is.EqualTo(r.Text));
    }

    [TestCase(0, "Findings: The mammogram shows that an additional imaging is recommended.  Impressions: BI-RADS Category 0: additional imaging required. Overall Assessment: Additional imaging is recommended. ")]
    [TestCase(1, "Findings: The mammogram shows that no significant masses, calcification, or other abnormalities are present.  Impressions: BI-RADS Category 1: negative. Overall Assessment: Negative. ")]
    [TestCase(2, "Findings: The mammogram shows that a benign finding is present.  Impressions: BI-RADS Category 2: benign finding. Overall Assessment: Benign. ")]
    [TestCase(3, "Findings: The mammogram shows that a probably benign finding is present.  Impressions: BI-RADS Category 3: probably benign finding. Overall Assessment: Probably benign. ")]
    [TestCase(4, "Findings: The mammogram shows that a suspicious abnormality is present.  Impressions: BI-RADS Category 4: suspicious abnormality. Overall Assessment: Suspicious abnormality. ")]
    [TestCase(5, "Findings: The mammogram shows that a highly suggestive of malignancy is present, a biopsy is recommended.  Impressions: BI-RADS Category 5: highly suggestive of malignancy. Overall Assessment: Highly suggestive of malignancy. ")]
    [TestCase(6, "Findings: The mammogram shows that a known biopsy-proven malignant mass is present.  Impressions: BI-RADS Category 6: known biopsy-proven malignancy. Overall Assessment: Known biopsy-proven malignancy. ")]
    public void EachAssessmentLetter(int birads, string tail)
    {
        string text = ReportBuilder.Build(Fields(birads)).Text;
        Assert.That(text, Is.EqualTo(Base + "Breast composition: The breast is scattered fibroglandular densities.  " + tail));
    }

    [TestCase(1, "Breast composition: The breast is almost entirely fat.  ")]
    [TestCase(2, "Breast composition: The breast is scattered fibroglandular densities.  ")]
    [TestCase(3, "Breast composition: The breast is heterogeneously dense. This may lower the sensitivity of mammography.  ")]
    [TestCase(4, "Breast composition: The breast is extremely dense. This may lower the sensitivity of mammography.  ")]
    [TestCase(5, "Breast composition: The breast is normal male dense.  ")]
    public void EachDensity(int density, string composition)
    {
        StructuredReport r = ReportBuilder.Build(Fields(1, density));
        Assert.That(r.Composition, Is.EqualTo(composition));
        Assert.That(r.Text, Is.EqualTo(Base + composition
            + "Findings: The mammogram shows that no significant masses, calcification, or other abnormalities are present.  Impressions: BI-RADS Category 1: negative. Overall Assessment: Negative. "));
    }

    [Test]
    public void MassAndCalcificationExtras()
    {
        StructuredReport r = ReportBuilder.Build(Fields(4, 3) with
        {
            MassShape = "irregular",
            MassDensity = "high density",
            CalcDistribution = "segmental",
            CalcShape = "fine pleomorphic",
        });
        Assert.That(r.Text, Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is White, Non-Hispanic or Latino, and 57 years old.  Image info: This is a 2D full-field digital mammogram of the left breast with CC view.  Breast composition: The breast is heterogeneously dense. This may lower the sensitivity of mammography.  Findings: The mammogram shows that a suspicious abnormality is present. The mass is irregular and high density.  A segmental fine pleomorphic calcification is present.  Impressions: BI-RADS Category 4: suspicious abnormality. Overall Assessment: Suspicious abnormality. "));
        Assert.That(r.Findings, Is.EqualTo("Findings: The mammogram shows that a suspicious abnormality is present. The mass is irregular and high density.  "));
        Assert.That(r.Calcification, Is.EqualTo("A segmental fine pleomorphic calcification is present.  "));
    }

    [Test]
    public void CalcificationWithoutMass()
    {
        string text = ReportBuilder.Build(Fields(2) with { CalcDistribution = "grouped", CalcShape = "punctate" }).Text;
        Assert.That(text, Is.EqualTo(Base + "Breast composition: The breast is scattered fibroglandular densities.  "
            + "Findings: The mammogram shows that a benign finding is present.  A grouped punctate calcification is present.  Impressions: BI-RADS Category 2: benign finding. Overall Assessment: Benign. "));
    }

    [Test]
    public void HalfDecodedExtrasAreLeftOut()
    {
        string plain = ReportBuilder.Build(Fields(2)).Text;
        Assert.That(ReportBuilder.Build(Fields(2) with { MassShape = "oval" }).Text, Is.EqualTo(plain));
        Assert.That(ReportBuilder.Build(Fields(2) with { MassDensity = "fat" }).Text, Is.EqualTo(plain));
        Assert.That(ReportBuilder.Build(Fields(2) with { CalcShape = "round" }).Text, Is.EqualTo(plain));
        Assert.That(ReportBuilder.Build(Fields(2) with { CalcDistribution = "linear" }).Text, Is.EqualTo(plain));
    }

    [Test]
    public void UnknownMetaAndDiagnosticHispanic()
    {
        ReportFields f = Fields(0, 4) with
        {
            Procedure = "MG Diagnostic Left",
            Reason = "diagnostic",
            Race = "unknown",
            Ethnicity = "Hispanic or Latino",
            Age = "unknown",
            Side = "unknown",
            View = "unknown",
        };
        Assert.That(ReportBuilder.Build(f).Text, Is.EqualTo(
            "Procedure reported: MG Diagnostic Left; Reason for procedure: diagnostic; Patient info: This patient is unknown, Hispanic or Latino, and unknown years old.  Image info: This is a 2D full-field digital mammogram of the unknown breast with unknown view.  Breast composition: The breast is extremely dense. This may lower the sensitivity of mammography.  Findings: The mammogram shows that an additional imaging is recommended.  Impressions: BI-RADS Category 0: additional imaging required. Overall Assessment: Additional imaging is recommended. "));
    }

    [Test]
    public void NewlinesInValuesBecomeSpaces()
    {
        ReportFields f = Fields() with { Procedure = "MG Screening\nBilateral", Race = "Asian\r\nor Pacific", View = "X\rCC" };
        StructuredReport r = ReportBuilder.Build(f);
        Assert.That(r.Procedure, Is.EqualTo("Procedure reported: MG Screening Bilateral; "));
        Assert.That(r.PatientInfo, Is.EqualTo("Patient info: This patient is Asian or Pacific, Non-Hispanic or Latino, and 57 years old.  "));
        Assert.That(r.ImageInfo, Is.EqualTo("Image info: This is a 2D full-field digital mammogram of the left breast with X CC view.  "));
        Assert.That(r.Text, Does.Not.Contain("\n").And.Not.Contain("\r"));
    }

    [TestCase("57.8", "57")]
    [TestCase("57", "57")]
    [TestCase("40.0", "40")]
    [TestCase("", "unknown")]
    [TestCase("  ", "unknown")]
    [TestCase("NaN", "unknown")]
    [TestCase("n/a", "unknown")]
    public void AgeIsTruncated(string raw, string expected) => Assert.That(ReportFields.NormalizeAge(raw), Is.EqualTo(expected));

    [TestCase("Hispanic or Latino", "Hispanic or Latino")]
    [TestCase("Non-Hispanic or Latino", "Non-Hispanic or Latino")]
    [TestCase("Unknown", "Non-Hispanic or Latino")]
    [TestCase("", "Non-Hispanic or Latino")]
    [TestCase(null, "Non-Hispanic or Latino")]
    [TestCase("hispanic or latino", "Non-Hispanic or Latino")]
    public void EthnicityRule(string? raw, string expected) => Assert.That(ReportFields.NormalizeEthnicity(raw), Is.EqualTo(expected));

    [TestCase("MG Screening Bilateral", "screening")]
    [TestCase("MAMMO SCREEN 3D", "screening")]
    [TestCase("MG Diagnostic Left", "diagnostic")]
    [TestCase("US DIAG", "diagnostic")]
    [TestCase("Screening and diagnostic", "screening")]
    [TestCase("MG Stereo Biopsy", null)]
    public void ReasonFromProcedure(string procedure, string? reason) => Assert.That(ReportVocabulary.ReasonOf(procedure), Is.EqualTo(reason));

    [Test]
    public void CodesAreComparedAsWritten()
    {
        Assert.That("ANBPSMK".Select(c => ReportVocabulary.BiradsOf(c.ToString())), Is.EqualTo(new int?[] { 0, 1, 2, 3, 4, 5, 6 }));
        Assert.That(ReportVocabulary.BiradsOf("n"), Is.Null);
        Assert.That(ReportVocabulary.BiradsOf("X"), Is.Null);
        Assert.That(ReportVocabulary.BiradsOf(""), Is.Null);
        Assert.That(ReportVocabulary.BiradsOf("NB"), Is.Null);
        Assert.That(Enumerable.Range(1, 5).Select(d => ReportVocabulary.DensityOf(d.ToString())), Is.EqualTo(new int?[] { 1, 2, 3, 4, 5 }));
        Assert.That(ReportVocabulary.DensityOf("0"), Is.Null);
        Assert.That(ReportVocabulary.DensityOf("6"), Is.Null);
        Assert.That(ReportVocabulary.DensityOf("3.0"), Is.Null);
        Assert.That(ReportVocabulary.DensityOf(""), Is.Null);
        Assert.That(ReportFields.NormalizeSide("L"), Is.EqualTo("left"));
        Assert.That(ReportFields.NormalizeSide("R"), Is.EqualTo("right"));
        Assert.That(ReportFields.NormalizeSide("B"), Is.EqualTo("bilateral"));
        Assert.That(ReportFields.NormalizeSide(""), Is.EqualTo("unknown"));
        Assert.That(ReportFields.NormalizeSide("l"), Is.EqualTo("unknown"));
    }

    [Test]
    public void SentenceMarksBecomeSep()
    {
        Assert.That(ReportBuilder.MarkSentences("Procedure reported: X; Negative. ", "[SEP]"), Is.EqualTo("Procedure reported: X[SEP] Negative[SEP] "));
    }
}
