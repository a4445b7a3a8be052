using MaMA.Data.Splits;

namespace MaMA.Data.Tests.Splits;

[TestFixture]
public sealed class PatientSplitsTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "mama-splits-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static string[] Patients(int n) => Enumerable.Range(0, n).Select(i => $"P{i:D5}").ToArray();

    [Test]
    public void ProportionsAreSeventyTenTwentyAndDisjoint()
    {
        PatientSplits s = PatientSplits.Create(Patients(1000), seed: 5);
        Assert.That((s.Count(DataSplit.Train), s.Count(DataSplit.Valid), s.Count(DataSplit.Test)), Is.EqualTo((700, 100, 200)));
        Assert.That(s.ByPatient, Has.Count.EqualTo(1000), "every patient in exactly one split");
        var all = s.PatientsIn(DataSplit.Train).Concat(s.PatientsIn(DataSplit.Valid)).Concat(s.PatientsIn(DataSplit.Test)).ToArray();
        Assert.That(all, Is.Unique);
        Assert.That(all, Has.Length.EqualTo(1000));
        PatientSplits small = PatientSplits.Create(Patients(10), seed: 1);
        Assert.That((small.Count(DataSplit.Train), small.Count(DataSplit.Valid), small.Count(DataSplit.Test)), Is.EqualTo((7, 1, 2)));
    }

    [Test]
    public void SameSeedSameFileAndInputOrderDoesNotMatter()
    {
        string a = Path.Combine(_dir, "a.csv"), b = Path.Combine(_dir, "b.csv"), c = Path.Combine(_dir, "c.csv");
        PatientSplits.Create(Patients(300), seed: 9).Write(a);
        PatientSplits.Create(Patients(300).Reverse().Concat(Patients(50)), seed: 9).Write(b);
        PatientSplits.Create(Patients(300), seed: 10).Write(c);
        Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
        Assert.That(File.ReadAllBytes(c), Is.Not.EqualTo(File.ReadAllBytes(a)));
        Assert.That(File.ReadLines(a).First(), Is.EqualTo("empi_anon,split"));
    }

    [Test]
    public void FileReadsBackIdentically()
    {
        string path = Path.Combine(_dir, "splits.csv");
        PatientSplits s = PatientSplits.Create(Patients(200).Append("with,comma").Append("quote\"d"), seed: 3);
        s.Write(path);
        PatientSplits back = PatientSplits.Read(path);
        Assert.That(back.ByPatient, Is.EquivalentTo(s.ByPatient));
        string copy = Path.Combine(_dir, "copy.csv");
        back.Write(copy);
        Assert.That(File.ReadAllBytes(copy), Is.EqualTo(File.ReadAllBytes(path)));
    }

    [Test]
    public void LoadOrCreateWritesOnceThenReads()
    {
        string path = Path.Combine(_dir, "splits.csv");
        PatientSplits first = PatientSplits.LoadOrCreate(path, Patients(40), seed: 1, out bool created1);
        // A different seed no longer matters: the file wins.
        PatientSplits second = PatientSplits.LoadOrCreate(path, Patients(40), seed: 2, out bool created2);
        Assert.That((created1, created2), Is.EqualTo((true, false)));
        Assert.That(second.ByPatient, Is.EquivalentTo(first.ByPatient));
    }

    [Test]
    public void BadSplitFilesAreErrors()
    {
        string path = Path.Combine(_dir, "bad.csv");
        File.WriteAllText(path, "empi_anon,split\nP1,train\nP2,holdout\n");
        var e = Assert.Throws<InvalidDataException>(() => PatientSplits.Read(path));
        Assert.That(e!.Message, Does.Contain("line 3").And.Contain("holdout"));
        File.WriteAllText(path, "empi_anon,split\nP1,train\nP1,test\n");
        e = Assert.Throws<InvalidDataException>(() => PatientSplits.Read(path));
        Assert.That(e!.Message, Does.Contain("line 3").And.Contain("twice"));
        File.WriteAllText(path, "empi_anon,split\nP1,train,extra\n");
        e = Assert.Throws<InvalidDataException>(() => PatientSplits.Read(path));
        Assert.That(e!.Message, Does.Contain("line 2"));
        File.WriteAllText(path, "patient,split\nP1,train\n");
        e = Assert.Throws<InvalidDataException>(() => PatientSplits.Read(path));
        Assert.That(e!.Message, Does.Contain("missing required column 'empi_anon'"));
    }

    [Test]
    public void SeededRandomIsStable()
    {
        // Pinned values: the split files of existing datasets depend on this stream never changing.
        var r = new SeededRandom(0);
        Assert.That(r.Next(), Is.EqualTo(0xE220A8397B1DCDAFUL));
        Assert.That(r.Next(), Is.EqualTo(0x6E789E6AA1B965F4UL));
        Assert.That(SeededRandom.Uniform(1, 2, 3, 4), Is.EqualTo(SeededRandom.Uniform(1, 2, 3, 4)));
        Assert.That(SeededRandom.Uniform(1, 2, 3, 4), Is.Not.EqualTo(SeededRandom.Uniform(1, 2, 3, 5)));
        var counts = new int[5];
        var g = new SeededRandom(17);
        for (int i = 0; i < 50_000; i++) counts[g.NextInt(5)]++;
        Assert.That(counts.Select(c => c / 50_000.0), Has.All.EqualTo(0.2).Within(0.01));
    }
}
