using MaMA.Data.Embed;
using MaMA.Data.Reports;

namespace MaMA.Data.Tests.Embed;

[TestFixture]
public sealed class EmbedDatasetTests
{
    private const string Nas = "/mnt/NAS2/mammo/anon_dicom/";

    [Test]
    public void ReportFromTablesIsExact()
    {
        using var f = new EmbedTestFolder();
        f.Image(Nas + "p1/s1/a.dcm", "P1", "S1", "L", "MLO", procedure: "MG Diagnostic Left")
         .Finding("S1", "L", "S", density: "3", age: "63.9", race: "African American  or Black", ethnic: "Hispanic or Latino",
             massshape: "X", massdens: "+", calcfind: "9", calcdistri: "S");
        EmbedDataset d = f.Load();
        EmbedRecord r = d.Records.Single();
        Assert.That(r.Report.Text, Is.EqualTo(
            "Procedure reported: MG Diagnostic Left; Reason for procedure: diagnostic; Patient info: This patient is African American  or Black, Hispanic or Latino, and 63 years old.  Image info: This is a 2D full-field digital mammogram of the left breast with MLO view.  Breast composition: The breast is heterogeneously dense. This may lower the sensitivity of mammography.  Findings: The mammogram shows that a suspicious abnormality is present. The mass is irregular and high density.  A segmental fine pleomorphic calcification is present.  Impressions: BI-RADS Category 4: suspicious abnormality. Overall Assessment: Suspicious abnormality. "));
        Assert.That((r.Birads, r.Density, r.DensityClass, r.DensityLabel, r.Assessment), Is.EqualTo((4, 3, (int?)3, (int?)2, 'S')));
        Assert.That((r.Study, r.Patient, r.Laterality, r.View, r.Index), Is.EqualTo(("S1", "P1", "L", "MLO", 0)));
        Assert.That(r.Path, Is.EqualTo(Path.Combine(f.Dir, "images", "p1", "s1", "a.dcm")));
        Assert.That(r.SourcePath, Is.EqualTo(Nas + "p1/s1/a.dcm"));
        Assert.That((r.MetadataLine, r.ClinicalLine), Is.EqualTo((2, 2)));
    }

    [Test]
    public void MissingMetaBecomesUnknownAndUndecodableExtrasAreLeftOut()
    {
        using var f = new EmbedTestFolder();
        f.Image("images/x.png", "P1", "S1", "", "")
         .Finding("S1", "R", "N", density: "1", age: "", race: "", ethnic: "", massshape: "O", massdens: "?", calcfind: "P", calcdistri: "");
        EmbedRecord r = f.Load().Records.Single();
        Assert.That(r.Report.Text, Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is unknown, Non-Hispanic or Latino, and unknown years old.  Image info: This is a 2D full-field digital mammogram of the unknown breast with unknown view.  Breast composition: The breast is almost entirely fat.  Findings: The mammogram shows that no significant masses, calcification, or other abnormalities are present.  Impressions: BI-RADS Category 1: negative. Overall Assessment: Negative. "));
        Assert.That(r.Path, Is.EqualTo(Path.Combine(f.Dir, "images", "x.png")), "relative paths are resolved against the dataset folder");
    }

    [Test]
    public void LegendCodesDecodeOnlyUnderTheirOwnHeader()
    {
        using var f = new EmbedTestFolder();
        // "+" is a massdens code, not a massshape code.
        f.Image("a.png", "P1", "S1", "L").Finding("S1", "L", "B", massshape: "+", massdens: "+", calcfind: "S", calcdistri: "9");
        EmbedRecord r = f.Load().Records.Single();
        Assert.That(r.Report.Findings, Is.EqualTo("Findings: The mammogram shows that a benign finding is present.  "));
        Assert.That(r.Report.Calcification, Is.Empty);
    }

    [Test]
    public void MaleDensityIsWrittenButNotAClass()
    {
        using var f = new EmbedTestFolder();
        f.Image("a.png", "P1", "S1", "R").Finding("S1", "R", "N", density: "5");
        EmbedRecord r = f.Load().Records.Single();
        Assert.That(r.Report.Composition, Is.EqualTo("Breast composition: The breast is normal male dense.  "));
        Assert.That((r.Density, r.DensityClass, r.DensityLabel), Is.EqualTo((5, (int?)null, (int?)null)));
    }

    [Test]
    public void SkipsAreCountedByReason()
    {
        using var f = new EmbedTestFolder();
        f.Image("ok.png", "P1", "S1", "L")
         .Image("cview.png", "P1", "S1", "L", type: "cview")
         .Image("noproc.png", "P1", "S1", "L", procedure: "")
         .Image("noreason.png", "P1", "S1", "L", procedure: "MG Stereo Biopsy")
         .Image("noclin.png", "P2", "S9", "L")
         .Image("nodensity.png", "P3", "S3", "L")
         .Image("noasses.png", "P4", "S4", "R")
         .Image("ok.png", "P1", "S1", "L")
         .Image("nostudy.png", "P5", "", "L")
         .Finding("S1", "L", "N")
         .Finding("S3", "L", "N", density: "")
         .Finding("S4", "R", "X", density: "4");
        EmbedDataset d = f.Load();
        Assert.That(d.Records.Select(r => Path.GetFileName(r.Path)), Is.EqualTo(new[] { "ok.png" }));
        EmbedLoadSummary s = d.Summary;
        Assert.That((s.MetadataRows, s.Kept), Is.EqualTo((9, 1)));
        Assert.That(s.Skipped, Is.EqualTo(new (string, int)[]
        {
            (EmbedLoadSummary.NotTwoD, 1),
            (EmbedLoadSummary.MissingProcedure, 1),
            (EmbedLoadSummary.MissingReason, 1),
            (EmbedLoadSummary.NoClinicalRows, 1),
            (EmbedLoadSummary.MissingDensity, 1),
            (EmbedLoadSummary.MissingAssessment, 1),
            (EmbedLoadSummary.DuplicatePath, 1),
            (EmbedLoadSummary.MissingStudy, 1),
        }));
        Assert.That(s.ToString(), Does.Contain("skipped 1: missing density"));
    }

    [Test]
    public void FindingRowIsChosenPerImageSide()
    {
        using var f = new EmbedTestFolder();
        f.Image("l.png", "P1", "S1", "L").Image("r.png", "P1", "S1", "R").Image("b.png", "P2", "S2", "L")
         .Finding("S1", "L", "A", density: "2").Finding("S1", "L", "N", density: "2")
         .Finding("S1", "R", "K", density: "4", massshape: "O", massdens: "=")
         .Finding("S2", "R", "M", density: "1").Finding("S2", "B", "B", density: "3");
        EmbedDataset d = f.Load();
        Assert.That(d.Records.Select(r => (Path.GetFileName(r.Path), r.Birads, r.Density, r.ClinicalLine)), Is.EqualTo(new[]
        {
            ("l.png", 0, 2, 2),
            ("r.png", 6, 4, 4),
            ("b.png", 2, 3, 6),
        }));
        Assert.That(d.Records[1].Report.Findings, Is.EqualTo("Findings: The mammogram shows that a known biopsy-proven malignant mass is present. The mass is oval and equal density.  "));
    }

    [Test]
    public void CsvProblemsAreReportedNotFatal()
    {
        using var f = new EmbedTestFolder();
        f.Image("a.png", "P1", "S1", "L").Image("b.png", "P1", "S1", "R").Finding("S1", "L", "N").Finding("S1", "R", "B");
        f.Write();
        string meta = Path.Combine(f.Dir, "tables", "EMBED_OpenData_metadata.csv");
        File.AppendAllText(meta, "broken,row\n\"c.png\",P1,S1,L,CC,2D,\"MG Screening\nBilateral\"\n");
        EmbedDataset d = EmbedDataset.Load(f.Dir);
        Assert.That(d.Records.Select(r => Path.GetFileName(r.Path)), Is.EqualTo(new[] { "a.png", "b.png", "c.png" }));
        Assert.That(d.Summary.CsvRowsSkipped, Is.EqualTo(1));
        (string file, var problem) = d.Summary.CsvProblems.Single();
        Assert.That(file, Does.EndWith("EMBED_OpenData_metadata.csv"));
        Assert.That(problem.Line, Is.EqualTo(4));
        Assert.That(d.Records[2].Report.Procedure, Is.EqualTo("Procedure reported: MG Screening Bilateral; "));
    }

    [Test]
    public void MissingColumnNamesTheFile()
    {
        using var f = new EmbedTestFolder();
        f.Image("a.png", "P1", "S1", "L").Finding("S1", "L", "N");
        f.Write();
        File.WriteAllText(Path.Combine(f.Dir, "tables", "AWS_Open_Data_Clinical_Legend.csv"), "Header in export,Code\nmassshape,O\n");
        var e = Assert.Throws<InvalidDataException>(() => EmbedDataset.Load(f.Dir));
        Assert.That(e!.Message, Does.Contain("AWS_Open_Data_Clinical_Legend.csv").And.Contain("missing required column 'Meaning'"));
    }

    [Test]
    public void PathPrefixRewrite()
    {
        using var f = new EmbedTestFolder();
        f.Image("/data/old/x/a.dcm", "P1", "S1", "L").Image("/elsewhere/b.dcm", "P1", "S1", "R").Finding("S1", "L", "N").Finding("S1", "R", "N");
        EmbedDataset d = f.Load(new EmbedOptions { PathPrefixes = [PathPrefix.Parse("/data/old/=pixels/")] });
        Assert.That(d.Records[0].Path, Is.EqualTo(Path.Combine(f.Dir, "pixels", "x", "a.dcm")));
        Assert.That(d.Records[1].Path, Is.EqualTo("/elsewhere/b.dcm"), "absolute paths without a matching prefix are kept");
        Assert.That(EmbedDataset.ResolveImagePath("/ds", "/mnt/NAS2/mammo/anon_dicom/1/2.dcm", new EmbedOptions().PathPrefixes), Is.EqualTo("/ds/images/1/2.dcm"));
        Assert.That(EmbedDataset.ResolveImagePath("/ds", "/mnt/a/1.dcm", [new PathPrefix("/mnt/a", "/new")]), Is.EqualTo("/new/1.dcm"));
        Assert.Throws<ArgumentException>(() => PathPrefix.Parse("no-equals"));
    }

    [Test]
    public void RequireImageFilesSkipsMissingOnes()
    {
        using var f = new EmbedTestFolder();
        f.Image("images/a.png", "P1", "S1", "L").Image("images/b.png", "P1", "S1", "R").Finding("S1", "L", "N").Finding("S1", "R", "N");
        Directory.CreateDirectory(Path.Combine(f.Dir, "images"));
        File.WriteAllBytes(Path.Combine(f.Dir, "images", "a.png"), [1]);
        EmbedDataset d = f.Load(new EmbedOptions { RequireImageFiles = true });
        Assert.That(d.Records.Select(r => Path.GetFileName(r.Path)), Is.EqualTo(new[] { "a.png" }));
        Assert.That(d.Summary.SkippedCount(EmbedLoadSummary.MissingImageFile), Is.EqualTo(1));
    }

    [Test]
    public void PairCandidatesAreTheOtherImagesOfTheStudy()
    {
        using var f = new EmbedTestFolder();
        f.Image("1.png", "P1", "S1", "L").Image("2.png", "P1", "S1", "R", "MLO").Image("3.png", "P1", "S2", "L").Image("4.png", "P1", "S1", "L", "MLO")
         .Finding("S1", "L", "N").Finding("S1", "R", "N").Finding("S2", "L", "N");
        EmbedDataset d = f.Load();
        IReadOnlyList<IReadOnlyList<int>> pairs = EmbedDataset.PairCandidates(d.Records);
        Assert.That(pairs[0], Is.EqualTo(new[] { 1, 3 }));
        Assert.That(pairs[1], Is.EqualTo(new[] { 0, 3 }));
        Assert.That(pairs[2], Is.Empty);
        Assert.That(pairs[3], Is.EqualTo(new[] { 0, 1 }));
        // Within a subset (a split), only the subset's images are candidates.
        IReadOnlyList<IReadOnlyList<int>> sub = EmbedDataset.PairCandidates([d.Records[1], d.Records[2]]);
        Assert.That(sub.Select(p => p.Count), Is.EqualTo(new[] { 0, 0 }));
    }

    [Test]
    public void ZeroShotBaseIsTheFirstFourParts()
    {
        using var f = new EmbedTestFolder();
        f.Image("a.png", "P1", "S1", "R", "MLO").Finding("S1", "R", "P", density: "4", age: "70");
        EmbedRecord r = f.Load().Records.Single();
        Assert.That(ZeroShotPrompts.Density(r.Report.Base, 2), Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is White, Non-Hispanic or Latino, and 70 years old.  Image info: This is a 2D full-field digital mammogram of the right breast with MLO view.  Breast composition: The breast is scattered fibroglandular densities. "));
    }
}
