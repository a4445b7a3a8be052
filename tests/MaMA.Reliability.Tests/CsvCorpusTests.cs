using MaMA.Data.Embed;
using MaMA.Data.Tables;
using MaMA.Reliability.Tests.Corpus;
using MaMA.Reliability.Tests.Support;

namespace MaMA.Reliability.Tests;

/// <summary>
/// The CSV corpus through <see cref="CsvReader"/>: a clear error naming the file, or the good rows
/// kept and the bad ones counted; and an EMBED folder with unknown codes, missing values and bad
/// paths, whose images are skipped and counted by reason.
/// </summary>
public sealed class CsvCorpusTests
{
    private static IEnumerable<CsvCorpus.Case> Cases => CsvCorpus.All();

    [TestCaseSource(nameof(Cases))]
    public void Csv(CsvCorpus.Case c)
    {
        Outcome o = Bounded.Run(() => CsvReader.ReadStream(new MemoryStream(c.Bytes), c.Name + ".csv", CsvCorpus.Required));
        if (c.Error is not null)
        {
            var e = Expect.Error<InvalidDataException>(o, c.Error);
            Assert.That(e.Message, Does.StartWith(c.Name + ".csv: "));
            return;
        }
        CsvTable t = Expect.Success<CsvTable>(o);
        Assert.That(t.Rows, Has.Count.EqualTo(c.Rows), t.Summary());
        Assert.That(t.SkippedRows, Is.EqualTo(c.Skipped), t.Summary());
        Assert.That(t.InvalidUtf8Sequences, Is.EqualTo(c.Utf8Errors), t.Summary());
        // No more than a few copies of the input (the 10 MB field is held as a string once per copy).
        Expect.Allocation(o, 64L * c.Bytes.Length + (16 << 20));
    }

    [Test]
    public void EmbedFolderWithUnknownCodesAndBadValuesCountsEverySkip()
    {
        using var dir = new TempFolder("embed");
        string[] meta = [.. EmbedColumns.MetadataRequired];
        string[] clin = [.. EmbedColumns.ClinicalRequired];
        string prefix = "/mnt/NAS2/mammo/anon_dicom/";
        var metadata = new List<string[]>
        {
            new[] { prefix + "p1/a.dcm", "p1", "s1", "L", "CC", "2D", "MG Screening Bilateral" },   // kept
            new[] { prefix + "p1/b.dcm", "p1", "s1", "R", "CC", "3D", "MG Screening Bilateral" },   // not 2D
            new[] { prefix + "p2/a.dcm", "p2", "s2", "L", "CC", "2D", "MG Screening Bilateral" },   // density code 9: unknown
            new[] { prefix + "p3/a.dcm", "p3", "s3", "L", "CC", "2D", "MG Screening Bilateral" },   // assessment code Z: unknown
            new[] { prefix + "p4/a.dcm", "p4", "s4", "L", "CC", "2D", "MG Ultrasound" },            // no reason in the procedure
            new[] { prefix + "p5/a.dcm", "p5", "s404", "L", "CC", "2D", "MG Screening Bilateral" }, // no clinical rows
            new[] { "", "p6", "s1", "L", "CC", "2D", "MG Screening Bilateral" },                    // no path
            new[] { prefix + "p1/a.dcm", "p1", "s1", "L", "CC", "2D", "MG Screening Bilateral" },   // duplicate path
            new[] { prefix + "p7/\0bad.dcm", "p7", "s1", "L", "CC", "2D", "MG Screening Bilateral" }, // NUL in the path
        };
        var clinical = new List<string[]>
        {
            new[] { "s1", "L", "N", "2", "57", "White", "Non-Hispanic", "Q", "?", "", "" },  // unknown legend codes: left out of the report
            new[] { "s2", "L", "N", "9", "60", "", "", "", "", "", "" },
            new[] { "s3", "L", "Z", "3", "61", "", "", "", "", "", "" },
            new[] { "s4", "L", "N", "3", "62", "", "", "", "", "", "" },
        };
        CsvWriter.WriteFile(System.IO.Path.Combine(dir.Path, "tables", "EMBED_OpenData_metadata.csv"), meta, metadata);
        CsvWriter.WriteFile(System.IO.Path.Combine(dir.Path, "tables", "EMBED_OpenData_clinical.csv"), clin, clinical);
        // The legend has a row with too few fields (skipped) and a non-UTF-8 meaning (kept, warned).
        dir.File("tables/AWS_Open_Data_Clinical_Legend.csv",
            [.. "Header in export,Code,Meaning\nmassshape,O,oval\nmassshape,X\nmassdens,+,high "u8, 0xE9, .. "\n"u8]);

        Outcome o = Bounded.Run(() => EmbedDataset.Load(dir.Path));
        EmbedDataset ds = Expect.Success<EmbedDataset>(o);
        EmbedLoadSummary s = ds.Summary;
        TestContext.Out.WriteLine(s.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(s.Kept, Is.EqualTo(1));
            Assert.That(ds.Records[0].Fields.MassShape, Is.Null, "an unknown code is left out, not invented");
            Assert.That(s.SkippedCount(EmbedLoadSummary.NotTwoD), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.MissingDensity), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.MissingAssessment), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.MissingReason), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.NoClinicalRows), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.MissingPath), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.DuplicatePath), Is.EqualTo(1));
            Assert.That(s.SkippedCount(EmbedLoadSummary.InvalidPath), Is.EqualTo(1));
            Assert.That(s.CsvRowsSkipped, Is.EqualTo(1));
            Assert.That(s.Kept + s.Skipped.Sum(r => r.Count), Is.EqualTo(metadata.Count), "every metadata row is kept or counted");
        });
    }

    [Test]
    public void EmbedFolderWithAMissingColumnNamesTheFileAndColumn()
    {
        using var dir = new TempFolder("embed");
        CsvWriter.WriteFile(System.IO.Path.Combine(dir.Path, "tables", "AWS_Open_Data_Clinical_Legend.csv"), [.. EmbedColumns.LegendRequired], []);
        CsvWriter.WriteFile(System.IO.Path.Combine(dir.Path, "tables", "EMBED_OpenData_clinical.csv"), [.. EmbedColumns.ClinicalRequired.Where(c => c != "asses")], []);
        Outcome o = Bounded.Run(() => EmbedDataset.Load(dir.Path));
        var e = Expect.Error<InvalidDataException>(o, "missing required column 'asses'");
        Assert.That(e.Message, Does.Contain("EMBED_OpenData_clinical.csv"));
    }
}
