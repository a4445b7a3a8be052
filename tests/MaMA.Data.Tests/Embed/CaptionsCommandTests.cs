using System.Text.Json;
using MaMA.Data.Embed;
using MaMA.Data.Splits;

namespace MaMA.Data.Tests.Embed;

[TestFixture]
[NonParallelizable] // redirects Console
public sealed class CaptionsCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        TextWriter oldOut = Console.Out, oldErr = Console.Error;
        var o = new StringWriter();
        var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            return (MaMA.Cli.Cli.Run(args), o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    /// <summary>20 patients, each one study with four 2D views (LCC, LMLO, RCC, RMLO) plus a C-view image.</summary>
    private static EmbedTestFolder Folder()
    {
        var f = new EmbedTestFolder();
        string letters = "ANBPSMK";
        for (int p = 0; p < 20; p++)
        {
            string patient = $"P{p:D3}", study = $"S{p:D3}";
            foreach ((string side, string view) in new[] { ("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO") })
                f.Image($"/mnt/NAS2/mammo/anon_dicom/{patient}/{study}/{side}{view}.dcm", patient, study, side, view,
                    procedure: p % 3 == 0 ? "MG Diagnostic Bilateral" : "MG Screening Bilateral");
            f.Image($"/mnt/NAS2/mammo/anon_dicom/{patient}/{study}/cview.dcm", patient, study, "L", "CC", type: "cview");
            f.Finding(study, "L", letters[p % 7].ToString(), density: (1 + p % 5).ToString(), age: (40 + p + 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture));
            f.Finding(study, "R", "N", density: (1 + p % 5).ToString(), age: (40 + p + 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return f;
    }

    [Test]
    public void WritesOneLinePerKeptImageOfTheSplit()
    {
        using EmbedTestFolder f = Folder();
        f.Write();
        string outFile = Path.Combine(f.Dir, "out", "train.jsonl");
        (int code, string stdout, string stderr) = Run("captions", "--embed", f.Dir, "--split", "train", "--out", outFile);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("wrote 56 train captions (unmasked)"));
        Assert.That(stdout, Does.Contain("skipped 20: not a 2D image"));
        Assert.That(stdout, Does.Contain("train 14, valid 2, test 4 patients"));
        Assert.That(Directory.GetFiles(Path.Combine(f.Dir, "out")), Is.EqualTo(new[] { outFile }), "no temporary file left");

        string[] lines = File.ReadAllLines(outFile);
        Assert.That(lines, Has.Length.EqualTo(56));
        using (JsonDocument doc = JsonDocument.Parse(lines[0]))
        {
            Assert.That(doc.RootElement.EnumerateObject().Select(p => p.Name),
                Is.EqualTo(new[] { "path", "study", "patient", "report", "birads", "density", "pair_candidates" }));
        }

        PatientSplits splits = PatientSplits.Read(Path.Combine(f.Dir, "splits.csv"));
        EmbedDataset d = EmbedDataset.Load(f.Dir);
        IReadOnlyList<EmbedRecord> expected = d.InSplit(splits, DataSplit.Train);
        IReadOnlyList<EmbedCaptions.Line> got = EmbedCaptions.Read(outFile);
        Assert.That(got.Select(l => l.Path), Is.EqualTo(expected.Select(r => r.Path)));
        Assert.That(got.Select(l => l.Report), Is.EqualTo(expected.Select(r => r.Report.Text)));
        Assert.That(got.Select(l => l.Patient).Distinct().All(p => splits.SplitOf(p) == DataSplit.Train));
        foreach (EmbedCaptions.Line l in got)
        {
            EmbedRecord r = expected.Single(x => x.Path == l.Path);
            Assert.That((l.Study, l.Patient, l.Birads, l.Density), Is.EqualTo((r.Study, r.Patient, r.Birads, (int?)r.Density)));
            Assert.That(l.PairCandidates, Has.Count.EqualTo(3));
            Assert.That(l.PairCandidates, Does.Not.Contain(l.Path));
            Assert.That(l.PairCandidates.All(p => got.Single(x => x.Path == p).Study == l.Study));
            Assert.That(l.Path, Does.StartWith(Path.Combine(f.Dir, "images") + Path.DirectorySeparatorChar));
        }

        // One line written out by hand: patient P004 (train with split seed 0; screening, asses S on
        // the left, density 5 "normal male dense", age 44.5).
        EmbedCaptions.Line p4 = got.Single(l => l.Path.EndsWith("P004/S004/LMLO.dcm", StringComparison.Ordinal));
        Assert.That(p4.Report, Is.EqualTo(
            "Procedure reported: MG Screening Bilateral; Reason for procedure: screening; Patient info: This patient is White, Non-Hispanic or Latino, and 44 years old.  Image info: This is a 2D full-field digital mammogram of the left breast with MLO view.  Breast composition: The breast is normal male dense.  Findings: The mammogram shows that a suspicious abnormality is present.  Impressions: BI-RADS Category 4: suspicious abnormality. Overall Assessment: Suspicious abnormality. "));
        Assert.That((p4.Birads, p4.Density), Is.EqualTo((4, (int?)5)));
        Assert.That(lines.Single(l => l.Contains("P004/S004/LMLO.dcm\",\"study", StringComparison.Ordinal)), Is.EqualTo(
            "{\"path\":\"" + Path.Combine(f.Dir, "images", "P004", "S004", "LMLO.dcm") + "\",\"study\":\"S004\",\"patient\":\"P004\",\"report\":\"" + p4.Report + "\",\"birads\":4,\"density\":5,\"pair_candidates\":["
            + string.Join(",", new[] { "LCC", "RCC", "RMLO" }.Select(v => "\"" + Path.Combine(f.Dir, "images", "P004", "S004", v + ".dcm") + "\"")) + "]}"));

        // Every split together covers every kept image exactly once.
        string valid = Path.Combine(f.Dir, "valid.jsonl"), test = Path.Combine(f.Dir, "test.jsonl");
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "valid", "--out", valid).Code, Is.EqualTo(0));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "test", "--out", test).Code, Is.EqualTo(0));
        string[] all = got.Select(l => l.Path).Concat(EmbedCaptions.Read(valid).Select(l => l.Path)).Concat(EmbedCaptions.Read(test).Select(l => l.Path)).ToArray();
        Assert.That(all, Is.Unique);
        Assert.That(all, Is.EquivalentTo(d.Records.Select(r => r.Path)));
    }

    [Test]
    public void MaskingIsSeededAndSplitsFileIsReused()
    {
        using EmbedTestFolder f = Folder();
        f.Write();
        string splits = Path.Combine(f.Dir, "my-splits.csv");
        string a = Path.Combine(f.Dir, "a.jsonl"), b = Path.Combine(f.Dir, "b.jsonl"), c = Path.Combine(f.Dir, "c.jsonl"), plain = Path.Combine(f.Dir, "plain.jsonl");
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", a, "--mask-meta", "0.8", "--seed", "3", "--splits", splits, "--split-seed", "4").Code, Is.EqualTo(0));
        byte[] splitBytes = File.ReadAllBytes(splits);
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", b, "--mask-meta", "0.8", "--seed", "3", "--splits", splits).Code, Is.EqualTo(0));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", c, "--mask-meta", "0.8", "--seed", "4", "--splits", splits).Code, Is.EqualTo(0));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", plain, "--splits", splits).Code, Is.EqualTo(0));
        Assert.That(File.ReadAllBytes(splits), Is.EqualTo(splitBytes), "the split file is read back, not rewritten");
        Assert.That(File.Exists(Path.Combine(f.Dir, "splits.csv")), Is.False);
        Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
        Assert.That(File.ReadAllBytes(c), Is.Not.EqualTo(File.ReadAllBytes(a)));

        var masked = EmbedCaptions.Read(a);
        var unmasked = EmbedCaptions.Read(plain);
        Assert.That(masked.Select(l => l.Path), Is.EqualTo(unmasked.Select(l => l.Path)));
        Assert.That(unmasked.All(l => !l.Report.Contains("unknown")));
        int unknownViews = masked.Count(l => l.Report.Contains("with unknown view"));
        Assert.That(unknownViews, Is.GreaterThan(masked.Count / 2));
        // Masking only touches the patient and image info.
        for (int i = 0; i < masked.Count; i++)
            Assert.That(masked[i].Report[masked[i].Report.IndexOf("Breast composition: ", StringComparison.Ordinal)..],
                Is.EqualTo(unmasked[i].Report[unmasked[i].Report.IndexOf("Breast composition: ", StringComparison.Ordinal)..]));
    }

    [Test]
    public void PathPrefixOption()
    {
        using EmbedTestFolder f = Folder();
        f.Write();
        string outFile = Path.Combine(f.Dir, "x.jsonl");
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "test", "--out", outFile, "--path-prefix", "/mnt/NAS2/mammo/anon_dicom/=/data/png/").Code, Is.EqualTo(0));
        Assert.That(EmbedCaptions.Read(outFile).Select(l => l.Path), Has.All.StartWith("/data/png/P"));
    }

    [Test]
    public void UsageErrorsExitTwoAndFailuresExitOne()
    {
        using EmbedTestFolder f = Folder();
        f.Write();
        string outFile = Path.Combine(f.Dir, "x.jsonl");
        Assert.That(Run("captions", "--split", "train", "--out", outFile).Code, Is.EqualTo(2));
        Assert.That(Run("captions", "--embed", f.Dir, "--out", outFile).Code, Is.EqualTo(2));
        (int code, _, string err) = Run("captions", "--embed", f.Dir, "--split", "training", "--out", outFile);
        Assert.That((code, err), Is.EqualTo((2, "mama captions: --split expects train, valid or test, got 'training'.\n")));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", outFile, "--mask-meta", "1.5").Code, Is.EqualTo(2));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", outFile, "--mask-ratio", "0.5").Code, Is.EqualTo(2));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", outFile, "--mask-meat", "0.5").Code, Is.EqualTo(2));
        Assert.That(Run("captions", "--embed", f.Dir, "--split", "train", "--out", outFile, "--path-prefix", "nothing").Code, Is.EqualTo(2));
        Assert.That(File.Exists(outFile), Is.False);

        (code, _, err) = Run("captions", "--embed", Path.Combine(f.Dir, "nope"), "--split", "train", "--out", outFile);
        Assert.That(code, Is.EqualTo(2), "a folder an option names that does not exist is a usage mistake");
        Assert.That(err, Does.Contain("--embed").And.Contain("no such folder"));
        File.WriteAllText(Path.Combine(f.Dir, "tables", "EMBED_OpenData_clinical.csv"), "acc_anon,side\nS1,L\n");
        (code, _, err) = Run("captions", "--embed", f.Dir, "--split", "train", "--out", outFile);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err, Does.Contain("EMBED_OpenData_clinical.csv").And.Contain("missing required column 'asses'"));
        Assert.That(File.Exists(outFile), Is.False, "nothing is written on failure");
    }

    [Test]
    public void StaleSplitFileIsAnError()
    {
        using EmbedTestFolder f = Folder();
        f.Write();
        File.WriteAllText(Path.Combine(f.Dir, "splits.csv"), "empi_anon,split\nP000,train\n");
        (int code, _, string err) = Run("captions", "--embed", f.Dir, "--split", "train", "--out", Path.Combine(f.Dir, "x.jsonl"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err, Does.Contain("no entry for 19 patient(s)"));
    }

    [Test]
    public void BadRowsAreWarnedAndCounted()
    {
        using EmbedTestFolder f = Folder();
        f.Write();
        File.AppendAllText(Path.Combine(f.Dir, "tables", "EMBED_OpenData_metadata.csv"), "only,three,fields\n");
        (int code, string stdout, string err) = Run("captions", "--embed", f.Dir, "--split", "train", "--out", Path.Combine(f.Dir, "x.jsonl"));
        Assert.That(code, Is.EqualTo(0));
        Assert.That(err, Does.Contain("EMBED_OpenData_metadata.csv: line 102: expected 7 fields (as in the header), found 3 (row skipped)"));
        Assert.That(stdout, Does.Contain("CSV rows skipped 1"));
    }
}
