using MaMA.Training.Config;
using MaMA.Training.Runs;

namespace MaMA.Training.Tests.Runs;

public class RunFolderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.NewScratch("run");

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void NewRunWritesTheConfigAndRefusesAFolderWithCheckpoints()
    {
        var config = new TrainingConfig { Model = "tiny", Seed = 3 };
        RunFolder run = RunFolder.CreateNew(_dir, config);
        Assert.That(TrainingConfigFile.Load(run.ConfigPath), Is.EqualTo(config));
        Directory.CreateDirectory(Path.Combine(run.CheckpointsDir, "step-000010"));
        var e = Assert.Throws<InvalidOperationException>(() => RunFolder.CreateNew(_dir, config))!;
        Assert.That(e.Message, Does.Contain("--resume"));
    }

    [Test]
    public void ResumeUsesTheStoredConfigOrReportsChanges()
    {
        var config = new TrainingConfig { Model = "tiny" };
        RunFolder.CreateNew(_dir, config);
        var warnings = new List<string>();
        var (_, same) = RunFolder.OpenForResume(_dir, null, warnings.Add);
        Assert.That(same, Is.EqualTo(config));
        var changed = config with { Schedule = config.Schedule with { MaxSteps = 50000 } };
        var (run, used) = RunFolder.OpenForResume(_dir, changed, warnings.Add);
        Assert.That(used, Is.EqualTo(changed));
        Assert.That(warnings, Is.EqualTo(new[] { "resuming with a changed config: schedule.max_steps: 40000 -> 50000" }));
        Assert.That(TrainingConfigFile.Load(run.ConfigPath), Is.EqualTo(changed));
    }

    [Test]
    public void ResumeOfAFolderWithoutARunIsAClearError()
    {
        var e = Assert.Throws<FileNotFoundException>(() => RunFolder.OpenForResume(_dir, null, _ => { }))!;
        Assert.That(e.Message, Does.Contain("not a run folder"));
    }
}
