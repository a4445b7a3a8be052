using MaMA.Data.Embed;
using MaMA.Data.Synthetic;

namespace MaMA.Data.Tests.Synthetic;

/// <summary>The three EMBED-shaped tables: columns, quoting, study structure, codes and the rare rows the skip rules need.</summary>
[TestFixture]
public sealed class SyntheticTablesTests
{
    private static string Table(string relative) => Path.Combine(SynthTestData.Dir, relative);

    [Test]
    public void ColumnsAreExactlyAsDocumented()
    {
        Assert.That(SynthTestData.ReadCsv(Table(DatasetLayout.MetadataCsv))[0], Is.EqualTo(new[]
        {
            "anon_dicom_path", "empi_anon", "acc_anon", "study_date_anon", "StudyDescription", "SeriesDescription",
            "FinalImageType", "ImageLateralityFinal", "ViewPosition", "spot_mag", "Manufacturer", "ManufacturerModelName",
            "Rows", "Columns",
        }));
        Assert.That(SynthTestData.ReadCsv(Table(DatasetLayout.ClinicalCsv))[0], Is.EqualTo(new[]
        {
            "empi_anon", "acc_anon", "study_date_anon", "desc", "numfind", "side", "asses", "tissueden",
            "massshape", "massmargin", "massdens", "calcfind", "calcdistri", "GENDER_DESC", "age_at_study",
            "RACE_DESC", "ETHNIC_GROUP_DESC",
        }));
        Assert.That(SynthTestData.ReadCsv(Table(DatasetLayout.LegendCsv))[0], Is.EqualTo(new[] { "Header in export", "Code", "Meaning" }));
        Assert.That(SynthTestData.ReadCsv(Table(SyntheticEmbed.TruthCsv))[0], Is.EqualTo(SyntheticEmbed.TruthColumns));
    }

    [Test]
    public void QuotingIsExercisedAndRoundTrips()
    {
        string raw = File.ReadAllText(Table(DatasetLayout.MetadataCsv));
        var meta = SynthTestData.ReadTable(Table(DatasetLayout.MetadataCsv));
        var descriptions = meta.Select(r => r["StudyDescription"]).Distinct().ToList();
        Assert.That(descriptions, Has.Some.Contains(","), "a description with a comma");
        Assert.That(descriptions, Has.Some.Contains("\"").And.Some.Contains("\n"), "a description with a quote and a newline");
        Assert.That(meta.Select(r => r["Manufacturer"]), Has.Some.EqualTo("HOLOGIC, Inc."));
        Assert.That(raw, Does.Contain("\"MG Screening Bilateral, with CAD\"").Or.Contain("\"MG Diag Bilat w/Tomo, CAD\""));
        Assert.That(SynthTestData.ReadTable(Table(DatasetLayout.ClinicalCsv)).Select(r => r["RACE_DESC"]), Has.Some.Contains(","));
        // Metadata and truth agree row by row (the truth rows follow the metadata order).
        Assert.That(meta.Select(r => r["anon_dicom_path"]), Is.EqualTo(SynthTestData.Summary.Images.Select(i => i.AnonDicomPath)));
        Assert.That(meta.Select(r => r["StudyDescription"]), Is.EqualTo(SynthTestData.Summary.Images.Select(i => i.StudyDescription)));
    }

    [Test]
    public void EveryStudyHasFour2DImagesWhoseFilesExist()
    {
        var meta = SynthTestData.ReadTable(Table(DatasetLayout.MetadataCsv));
        var studies = meta.Where(r => r["FinalImageType"] == "2D").GroupBy(r => r["acc_anon"]).ToList();
        Assert.That(studies, Has.Count.EqualTo(SynthTestData.Studies));
        foreach (var s in studies)
            Assert.That(s.Select(r => r["ImageLateralityFinal"] + " " + r["ViewPosition"]).Order(), Is.EqualTo(new[] { "L CC", "L MLO", "R CC", "R MLO" }), s.Key);
        Assert.That(meta.Select(r => r["FinalImageType"]).Distinct().Order(), Is.EqualTo(new[] { "2D", "cview" }), "occasional non-2D rows for the filter");
        foreach (var r in meta)
        {
            string path = r["anon_dicom_path"];
            Assert.That(path, Does.StartWith("/mnt/NAS2/mammo/anon_dicom/" + r["empi_anon"] + "/" + r["acc_anon"] + "/").And.EndWith(".png"));
            string file = Path.Combine(SynthTestData.Dir, "images", path["/mnt/NAS2/mammo/anon_dicom/".Length..]);
            Assert.That(File.Exists(file), file);
            Assert.That(r["Rows"], Is.EqualTo("320"));
            Assert.That(r["Columns"], Is.EqualTo("256"));
        }
        Assert.That(meta.Select(r => r["anon_dicom_path"]).Distinct().Count(), Is.EqualTo(meta.Count), "paths are unique");
        var expectedFiles = meta.Select(r => "images/" + r["anon_dicom_path"]["/mnt/NAS2/mammo/anon_dicom/".Length..])
            .Concat([DatasetLayout.MetadataCsv, DatasetLayout.ClinicalCsv, DatasetLayout.LegendCsv, SyntheticEmbed.TruthCsv]);
        var actualFiles = Directory.EnumerateFiles(SynthTestData.Dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(SynthTestData.Dir, f).Replace('\\', '/'));
        Assert.That(actualFiles.Order(), Is.EqualTo(expectedFiles.Order()), "exactly the tables and the images (no temporary files left)");
    }

    [Test]
    public void PatientsHaveOneToThreeStudies()
    {
        var meta = SynthTestData.ReadTable(Table(DatasetLayout.MetadataCsv));
        var perPatient = meta.GroupBy(r => r["empi_anon"]).Select(g => g.Select(r => r["acc_anon"]).Distinct().Count()).ToList();
        Assert.That(perPatient, Has.All.InRange(1, 3));
        Assert.That(perPatient, Has.Some.GreaterThan(1));
        Assert.That(perPatient.Count, Is.EqualTo(SynthTestData.Summary.Patients));
        // A study belongs to exactly one patient.
        Assert.That(meta.GroupBy(r => r["acc_anon"]).All(g => g.Select(r => r["empi_anon"]).Distinct().Count() == 1));
    }

    [Test]
    public void ClinicalValuesUseTheLegend()
    {
        var legend = SynthTestData.ReadTable(Table(DatasetLayout.LegendCsv)).Select(r => (r["Header in export"], r["Code"])).ToHashSet();
        var clinical = SynthTestData.ReadTable(Table(DatasetLayout.ClinicalCsv));
        var studies = SynthTestData.ReadTable(Table(DatasetLayout.MetadataCsv)).Select(r => r["acc_anon"]).ToHashSet();
        foreach (var r in clinical)
        {
            Assert.That(studies, Does.Contain(r["acc_anon"]));
            Assert.That(r["side"], Is.AnyOf("L", "R", "B"));
            Assert.That(r["asses"], Is.AnyOf("", "A", "N", "B", "P", "S", "M", "K"));
            Assert.That(r["tissueden"], Is.AnyOf("", "1", "2", "3", "4", "5"));
            foreach (string header in new[] { "massshape", "massmargin", "massdens", "calcfind", "calcdistri" })
                if (r[header] != "") Assert.That(legend, Does.Contain((header, r[header])), $"{header} code {r[header]}");
            if (r["age_at_study"] != "") Assert.That(double.Parse(r["age_at_study"], System.Globalization.CultureInfo.InvariantCulture), Is.InRange(35.0, 95.0));
        }
        Assert.That(clinical.Select(r => r["massshape"]).Where(c => c != "").Distinct().Count(), Is.GreaterThanOrEqualTo(3));
        Assert.That(clinical.Select(r => r["calcfind"]).Where(c => c != "").Distinct().Count(), Is.GreaterThanOrEqualTo(3));
        Assert.That(clinical.Count(r => r["massshape"] == "" && r["calcfind"] == ""), Is.GreaterThan(clinical.Count / 2), "codes are often empty");
        Assert.That(clinical.GroupBy(r => r["acc_anon"]).Any(g => g.Count() >= 3), "some studies have several findings");
        Assert.That(clinical.Select(r => r["asses"]).Where(a => a != "").Distinct().Count(), Is.GreaterThanOrEqualTo(6));
    }

    [Test]
    public void RareRowsForTheSkipRulesExist()
    {
        var clinical = SynthTestData.ReadTable(Table(DatasetLayout.ClinicalCsv));
        var meta = SynthTestData.ReadTable(Table(DatasetLayout.MetadataCsv));
        Assert.That(clinical.Any(r => r["tissueden"] == ""), "missing density");
        Assert.That(clinical.Any(r => r["asses"] == ""), "missing assessment");
        Assert.That(clinical.Any(r => r["tissueden"] == "5" && r["GENDER_DESC"] == "Male"), "male density 5");
        Assert.That(clinical.Any(r => r["age_at_study"] == ""), "missing age");
        Assert.That(clinical.Any(r => r["RACE_DESC"] == ""), "missing race");
        Assert.That(clinical.Any(r => r["ETHNIC_GROUP_DESC"] == ""), "missing ethnicity");
        Assert.That(meta.Any(r => r["StudyDescription"] == ""), "missing procedure");
        Assert.That(meta.Any(r => r["StudyDescription"] != "" && !r["StudyDescription"].Contains("screen", StringComparison.OrdinalIgnoreCase)
                                  && !r["StudyDescription"].Contains("diag", StringComparison.OrdinalIgnoreCase)), "no reason");
        var reasons = meta.Select(r => r["StudyDescription"]).Where(d => d.Contains("diag", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.That(reasons, Is.Not.Empty, "diagnostic studies");

        var skipped = SynthTestData.Images2D.Where(i => i.Skipped).GroupBy(i => i.SkipReason!).ToDictionary(g => g.Key, g => g.Count());
        TestContext.Out.WriteLine("skipped 2D images: " + string.Join(", ", skipped.Select(p => $"{p.Key} {p.Value}")));
        Assert.That(skipped.Keys, Is.SupersetOf(new[] { "procedure", "reason", "density", "assessment" }));
        Assert.That(SynthTestData.Images2D.Count(i => !i.Skipped), Is.GreaterThan(SynthTestData.Images2D.Count() * 3 / 4), "most images are usable");
        Assert.That(SynthTestData.Images2D.Select(i => i.RowRule).Distinct(), Is.SupersetOf(new[] { SynthRowRule.SameSide, SynthRowRule.Bilateral }));
    }

    [Test]
    public void TruthFollowsTheRowChoiceRule()
    {
        var clinical = SynthTestData.ReadTable(Table(DatasetLayout.ClinicalCsv));
        foreach (var i in SynthTestData.Images2D)
        {
            var row = clinical[i.ClinicalRow];
            Assert.That(row["acc_anon"], Is.EqualTo(i.Study.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(row["asses"], Is.EqualTo(i.Assessment));
            var sameStudy = clinical.Where(r => r["acc_anon"] == row["acc_anon"]).ToList();
            string expectedSide = i.RowRule switch { SynthRowRule.SameSide => i.Laterality, SynthRowRule.Bilateral => "B", _ => row["side"] };
            Assert.That(row["side"], Is.EqualTo(expectedSide));
            if (i.RowRule == SynthRowRule.Bilateral) Assert.That(sameStudy.Any(r => r["side"] == i.Laterality), Is.False);
            if (i.Birads is { } b) Assert.That("ANBPSMK"[b].ToString(), Is.EqualTo(i.Assessment));
            Assert.That(i.Density, Is.EqualTo(row["tissueden"] == "" ? null : int.Parse(row["tissueden"], System.Globalization.CultureInfo.InvariantCulture)));
            if (i.Density is { } d) Assert.That(i.RenderedDensity, Is.EqualTo(d));
        }
    }

    [Test]
    public void TheEmbedReaderKeepsExactlyWhatTheTruthKeeps()
    {
        // The EMBED reader (default prefix rewrite, files required) against the generator's ground truth.
        var data = EmbedDataset.Load(SynthTestData.Dir, new EmbedOptions { RequireImageFiles = true });
        TestContext.Out.WriteLine(data.Summary.ToString());
        Assert.That(data.Summary.CsvProblems, Is.Empty);
        var expected = SynthTestData.Images2D.Where(i => !i.Skipped)
            .ToDictionary(i => Path.GetFullPath(Path.Combine(SynthTestData.Dir, i.RelativePath)));
        Assert.That(data.Records.Select(r => Path.GetFullPath(r.Path)).Order(), Is.EqualTo(expected.Keys.Order()));
        foreach (var r in data.Records)
        {
            var t = expected[Path.GetFullPath(r.Path)];
            Assert.That((r.Birads, r.Density, r.Laterality, r.View), Is.EqualTo((t.Birads!.Value, t.Density!.Value, t.Laterality, t.View)), r.Path);
        }
        var skipped = SynthTestData.Images2D.Where(i => i.Skipped).GroupBy(i => i.SkipReason).ToDictionary(g => g.Key!, g => g.Count());
        Assert.That(data.Summary.SkippedCount(EmbedLoadSummary.NotTwoD), Is.EqualTo(SynthTestData.Summary.Images.Count(i => i.ImageType != "2D")));
        Assert.That(data.Summary.SkippedCount(EmbedLoadSummary.MissingProcedure), Is.EqualTo(skipped.GetValueOrDefault("procedure")));
        Assert.That(data.Summary.SkippedCount(EmbedLoadSummary.MissingReason), Is.EqualTo(skipped.GetValueOrDefault("reason")));
        Assert.That(data.Summary.SkippedCount(EmbedLoadSummary.MissingDensity), Is.EqualTo(skipped.GetValueOrDefault("density")));
        Assert.That(data.Summary.SkippedCount(EmbedLoadSummary.MissingAssessment), Is.EqualTo(skipped.GetValueOrDefault("assessment")));
    }

    [Test]
    public void RowChoiceMatchesTheSpec()
    {
        static ClinicalRow Row(string side, string asses) => new()
        {
            Patient = 1, Study = 2, StudyDate = "", Description = "", Side = side, Gender = "", Age = "", Race = "", Ethnicity = "", Assessment = asses,
        };
        (int, SynthRowRule) Choose(string lat, params (string Side, string Asses)[] rows) =>
            SyntheticEmbed.ChooseRow(rows.Select((r, k) => (Row(r.Side, r.Asses), k)).ToList(), lat);

        Assert.That(Choose("L", ("R", "S"), ("L", "N"), ("L", "M")), Is.EqualTo((2, SynthRowRule.SameSide)));
        Assert.That(Choose("L", ("R", "S"), ("B", "N")), Is.EqualTo((1, SynthRowRule.Bilateral)));
        Assert.That(Choose("L", ("R", "B"), ("R", "S")), Is.EqualTo((1, SynthRowRule.AllRows)));
        Assert.That(Choose("L", ("L", "B"), ("L", "A"), ("L", "N")), Is.EqualTo((1, SynthRowRule.SameSide)), "max <= 2 and min == 0: first arg-min");
        Assert.That(Choose("L", ("L", "P"), ("L", "A")), Is.EqualTo((0, SynthRowRule.SameSide)), "otherwise the first arg-max");
        Assert.That(Choose("L", ("L", "S"), ("L", "S")), Is.EqualTo((0, SynthRowRule.SameSide)));
        Assert.That(Choose("R", ("R", ""), ("R", "x")), Is.EqualTo((0, SynthRowRule.SameSide)), "no valid assessment: the first row");
    }
}
