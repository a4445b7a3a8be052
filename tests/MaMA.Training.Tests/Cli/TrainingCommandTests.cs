using System.Text.Json;
using MaMA.Training.Runs;
using MaMA.Training.Tests.Pretraining;

namespace MaMA.Training.Tests.Cli;

/// <summary>
/// <c>mama pretrain</c>, <c>probe</c>, <c>finetune</c> and <c>bench train</c> through the CLI entry
/// point in process (exit codes and the files they leave), with tiny step counts.
/// </summary>
[NonParallelizable]
public class TrainingCommandTests
{
    private readonly List<string> _dirs = [];

    private string Scratch(string name)
    {
        string dir = TestPaths.NewScratch(name);
        _dirs.Add(dir);
        return dir;
    }

    [TearDown]
    public void TearDown()
    {
        foreach (string d in _dirs) Directory.Delete(d, recursive: true);
        _dirs.Clear();
    }

    private static int Mama(params string[] args) => MaMA.Cli.Cli.Run(args);

    /// <summary>configs/pretrain-tiny.json with a few steps over the tests' synthetic dataset.</summary>
    private string TinyConfig(int steps, int checkpointEvery)
    {
        string path = Path.Combine(Scratch("cfg"), "tiny.json");
        string text = File.ReadAllText(Path.Combine(TestPaths.Configs, "pretrain-tiny.json"))
            .Replace("\"data\": null", $"\"data\": {JsonSerializer.Serialize(TinyRuns.DataDir)}")
            .Replace("\"max_steps\": 400", $"\"max_steps\": {steps}")
            .Replace("\"warmup_steps\": 10", "\"warmup_steps\": 1")
            .Replace("\"micro_batch\": 8", "\"micro_batch\": 6")
            .Replace("\"checkpoint_every\": 100", $"\"checkpoint_every\": {checkpointEvery}")
            .Replace("\"eval_every\": 100", "\"eval_every\": 0")
            .Replace("\"log_every\": 10", "\"log_every\": 1");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>
    /// Relative model and data folders in a config are read from the current folder and recorded
    /// absolute in RUN/config.json, so a resume from another folder finds them.
    /// </summary>
    [Test]
    public void RelativeFoldersOfAConfigAreRecordedAbsoluteAndTheRunResumesFromElsewhere()
    {
        string run = Path.Combine(Scratch("run-rel"), "tiny");
        string config = TinyConfig(steps: 2, checkpointEvery: 1);
        string parent = Path.GetDirectoryName(TinyRuns.DataDir)!, name = Path.GetFileName(TinyRuns.DataDir);
        File.WriteAllText(config, File.ReadAllText(config).Replace(JsonSerializer.Serialize(TinyRuns.DataDir), JsonSerializer.Serialize(name)));
        string cwd = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = parent;
            Assert.That(Mama("pretrain", "--config", config, "--out", run, "--stop-after", "1"), Is.EqualTo(0));
            Environment.CurrentDirectory = Path.GetTempPath();
            Assert.That(Mama("pretrain", "--out", run, "--resume"), Is.EqualTo(0));
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
        Assert.That(MaMA.Training.Config.TrainingConfigFile.Load(Path.Combine(run, "config.json")).Data, Is.EqualTo(TinyRuns.DataDir));
        Assert.That(Directory.Exists(Path.Combine(run, "final")), Is.True);
    }

    /// <summary>The cancer task end to end on the CLI without restricted data: mama synth --rsna, then probe --task rsna on its view.</summary>
    [Test]
    public void ProbeRsnaOnTheSyntheticView()
    {
        string data = Scratch("synth-rsna");
        Assert.That(Mama("synth", "--out", data, "--studies", "24", "--size", "64", "--rsna"), Is.EqualTo(0));
        string probe = Path.Combine(Scratch("probe-rsna-cli"), "out");
        Assert.That(Mama("probe", "--model", "tiny", "--task", "rsna", "--data", Path.Combine(data, "rsna"), "--steps", "2", "--batch", "6", "--workers", "2",
            "--device", "cpu", "--out", probe), Is.EqualTo(0));
        string metrics = File.ReadAllText(Path.Combine(probe, "metrics.json"));
        Assert.That(metrics, Does.Contain("\"pf1\""));
        using JsonDocument doc = JsonDocument.Parse(metrics);
        Assert.That(doc.RootElement.GetProperty("confusion_matrix").GetArrayLength(), Is.EqualTo(2));
    }

    [Test]
    public void PretrainResumeThenProbeAndFinetuneTheRun()
    {
        string run = Path.Combine(Scratch("run"), "tiny");
        string config = TinyConfig(steps: 3, checkpointEvery: 2);
        Assert.That(Mama("pretrain", "--config", config, "--out", run), Is.EqualTo(0));
        Assert.That(Directory.Exists(Path.Combine(run, "final")), Is.True);
        Assert.That(Directory.GetDirectories(Path.Combine(run, "checkpoints")).Select(Path.GetFileName), Is.EquivalentTo(new[] { "step-000002", "step-000003" }));
        // A finished run resumed: nothing left to train, same final step, and it says so (not "last loss NaN").
        TextWriter console = Console.Out;
        var said = new StringWriter();
        Console.SetOut(said);
        try
        {
            Assert.That(Mama("pretrain", "--out", run, "--resume"), Is.EqualTo(0));
        }
        finally
        {
            Console.SetOut(console);
        }
        Assert.That(said.ToString(), Does.Contain("no step to run: the run had already reached step 3").And.Not.Contain("NaN"));
        Assert.That(MetricsLog.Read(Path.Combine(run, "metrics.jsonl")).Where(l => l.Kind == "train").Select(l => l.Step), Is.EqualTo(new long[] { 1, 2, 3 }));

        string probe = Path.Combine(Scratch("probe"), "density");
        Assert.That(Mama("probe", "--model", run, "--task", "density", "--steps", "3", "--batch", "6", "--log-every", "1", "--workers", "2", "--device", "cpu", "--out", probe), Is.EqualTo(0));
        foreach (string f in new[] { "classifier.safetensors", "metrics.json", "confusion.png", "roc.png", "loss.png", "train.jsonl" })
            Assert.That(File.Exists(Path.Combine(probe, f)), Is.True, f);
        // The run's data was used (no synthetic dataset of the probe's own).
        Assert.That(Directory.Exists(Path.Combine(probe, "synthetic")), Is.False);

        string ft = Path.Combine(Scratch("ft"), "birads");
        Assert.That(Mama("finetune", "--model", run, "--task", "birads", "--steps", "2", "--batch", "6", "--checkpoint-every", "1", "--workers", "2", "--device", "cpu", "--out", ft), Is.EqualTo(0));
        Assert.That(File.Exists(Path.Combine(ft, "metrics.json")), Is.True);
        Assert.That(Directory.GetDirectories(Path.Combine(ft, "checkpoints")).Select(Path.GetFileName), Is.EqualTo(new[] { "step-000001" }));
    }

    [Test]
    public void BenchTrainTinyWritesJson()
    {
        string json = Path.Combine(Scratch("bench"), "train.json");
        Assert.That(Mama("bench", "train", "--config", "tiny", "--device", "cpu", "--micro-batch", "4", "--steps", "1", "--warmup", "0", "--json", json), Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement row = doc.RootElement.GetProperty("rows")[0];
        Assert.That(row.GetProperty("config").GetString(), Is.EqualTo("tiny"));
        Assert.That(row.GetProperty("micro_batch").GetInt32(), Is.EqualTo(4));
        Assert.That(row.GetProperty("pairs_per_second").GetDouble(), Is.GreaterThan(0));
    }

    [TestCase("pretrain")]
    [TestCase("pretrain", "--config", "x.json", "extra")]
    [TestCase("pretrain", "--resume", "yes", "--out", "r")]
    [TestCase("pretrain", "--config", "configs/pretrain-tiny.json", "--device", "tpu")]
    [TestCase("probe")]
    [TestCase("probe", "--model", "tiny", "--task", "cancer")]
    [TestCase("probe", "--model", "tiny", "--task", "rsna")]
    [TestCase("probe", "--model", "tiny", "--data", "/nonexistent/embed")]
    [TestCase("probe", "--model", "/nonexistent/model")]
    [TestCase("pretrain", "--config", "/nonexistent/x.json")]
    [TestCase("pretrain", "--config", "configs/pretrain-tiny.json", "--data", "/nonexistent/embed")]
    [TestCase("probe", "--model", "tiny", "--fraction", "2")]
    [TestCase("probe", "--model", "tiny", "--crop-scale-min", "0")]
    [TestCase("probe", "--model", "tiny", "--crop-scale-min", "1.01")]
    [TestCase("probe", "--model", "tiny", "--steps", "x")]
    [TestCase("finetune", "--model", "tiny", "--bogus", "1")]
    [TestCase("probe", "--model", "tiny", "--resume", "now")]
    [TestCase("bench", "train", "--micro-batch", "1")]
    [TestCase("bench", "train", "--config", "huge")]
    [TestCase("bench", "train", "--precision", "fp8")]
    [TestCase("bench", "train", "--threads", "2")]
    [TestCase("bench", "fly")]
    public void UsageMistakesExitWith2(params string[] args)
    {
        string cwd = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = Path.GetDirectoryName(TestPaths.Configs)!;
            Assert.That(Mama(args), Is.EqualTo(2));
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
    }

    [Test]
    public void ResumingAFolderThatIsNoRunFailsWith1()
    {
        Assert.That(Mama("pretrain", "--out", Scratch("empty"), "--resume"), Is.EqualTo(1));
    }
}
