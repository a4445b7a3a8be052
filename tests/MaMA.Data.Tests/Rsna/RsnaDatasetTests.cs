using MaMA.Data.Rsna;

namespace MaMA.Data.Tests.Rsna;

[TestFixture]
public sealed class RsnaDatasetTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "mama-rsna-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private void Touch(string relative)
    {
        string p = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, [0]);
    }

    [Test]
    public void ReadsLabelsAndFindsImagesByExtension()
    {
        File.WriteAllText(Path.Combine(_dir, "train.csv"),
            "site_id,patient_id,image_id,laterality,view,age,cancer\n"
            + "2,10006,462822612,L,CC,61,0\n"
            + "2,10006,1459541791,L,MLO,61,1\n"
            + "2,10011,220375232,R,CC,55,0\n"
            + "2,10011,270344397,R,MLO,55,0\n"
            + "2,10011,999,R,MLO,55,maybe\n"
            + "2,10011,bad row\n");
        Touch("train_images/10006/462822612.png");
        Touch("train_images/10006/1459541791.dcm");
        Touch("train_images/10006/1459541791.jpg");
        Touch("train_images/10011/220375232.dcm");
        Touch("train_images/10011/999.png");

        RsnaDataset d = RsnaDataset.Load(_dir);
        Assert.That(d.Records.Select(r => (r.PatientId, r.ImageId, r.Laterality, r.View, r.Cancer, Path.GetFileName(r.Path), r.Line)), Is.EqualTo(new[]
        {
            ("10006", "462822612", "L", "CC", 0, "462822612.png", 2),
            ("10006", "1459541791", "L", "MLO", 1, "1459541791.jpg", 3),
            ("10011", "220375232", "R", "CC", 0, "220375232.dcm", 4),
        }));
        Assert.That(d.Skipped[RsnaDataset.MissingImage], Is.EqualTo(1));
        Assert.That(d.Skipped[RsnaDataset.BadCancer], Is.EqualTo(1));
        Assert.That(d.Table.Problems.Single().Line, Is.EqualTo(7));
        Assert.That(d.ImagesDirectory, Is.EqualTo(Path.Combine(_dir, "train_images")));
        Assert.That(RsnaDataset.Prompts, Has.Count.EqualTo(2));
        // Both patients have labelled rows: a split is drawn over both, whichever images were found.
        Assert.That(d.Patients, Is.EqualTo(new[] { "10006", "10011" }));
        Assert.That(d.SkippedSummary(), Does.StartWith("3 row(s) of ").And.Contain("image file not found (1)").And.Contain("cancer is not 0 or 1 (1)")
            .And.Contain("bad CSV row (1)").And.Contain("train_images/{patient_id}/{image_id}.{png|jpg|dcm}"));
    }

    [Test]
    public void APatientWhoseImagesAreMissingStillCountsForTheSplit()
    {
        File.WriteAllText(Path.Combine(_dir, "train.csv"), "patient_id,image_id,laterality,view,cancer\n1,1,L,CC,0\n2,2,L,CC,1\n");
        Touch("train_images/1/1.png");
        RsnaDataset d = RsnaDataset.Load(_dir);
        Assert.That(d.Records.Select(r => r.PatientId), Is.EqualTo(new[] { "1" }));
        Assert.That(d.Patients, Is.EqualTo(new[] { "1", "2" }));
    }

    [Test]
    public void ImagesDirectlyUnderTheFolderAndMissingColumns()
    {
        File.WriteAllText(Path.Combine(_dir, "train.csv"), "patient_id,image_id,laterality,view,cancer\n1,2,L,CC,1\n");
        Touch("1/2.png");
        RsnaDataset d = RsnaDataset.Load(_dir);
        Assert.That(d.Records.Single().Path, Is.EqualTo(Path.Combine(_dir, "1", "2.png")));

        File.WriteAllText(Path.Combine(_dir, "train.csv"), "patient_id,image_id,laterality,view\n1,2,L,CC\n");
        var e = Assert.Throws<InvalidDataException>(() => RsnaDataset.Load(_dir));
        Assert.That(e!.Message, Does.Contain("train.csv").And.Contain("missing required column 'cancer'"));
    }
}
