using System.Text.Json;
using MaMA.Cli.Demo;
using MaMA.Engine.Devices;
using MaMA.Model.MaMA;

namespace MaMA.Engine.Tests.Cli;

/// <summary>
/// The README's first command. The fast test runs every phase of <see cref="DemoPipeline"/> at a
/// drastically reduced size and checks the report's shape, files and finiteness (not accuracy);
/// the slow one runs the real demo and checks that the model learns.
/// </summary>
[TestFixture]
public sealed class DemoCommandTests
{
    private static readonly string[] EvaluationKeys = ["zero_shot_density", "zero_shot_birads", "linear_probe_birads", "linear_probe_density"];

    [Test]
    public void ReducedDemoRunsEveryPhaseAndWritesItsReport()
    {
        string dir = TempDir();
        try
        {
            var settings = new DemoSettings
            {
                Studies = 24, Width = 64, Steps = 6, WarmupSteps = 1, MicroBatch = 4, ProbeSteps = 4, ProbeBatch = 8, EvalBatch = 16, LogEvery = 2,
                Model = MaMAConfig.Demo with { LateLossStep = 3 },
            };
            var log = new StringWriter();
            DemoResult result = new DemoPipeline(settings, Device.Cpu, log).Run(dir);

            using JsonDocument report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, DemoReport.FileName)));
            JsonElement root = report.RootElement;
            foreach (string key in new[] { "engine_version", "device", "machine", "seeds", "settings", "model", "data", "pretraining", "evaluations", "time", "files" })
                Assert.That(root.TryGetProperty(key, out _), $"report.json lacks '{key}'");
            Assert.That(root.GetProperty("device").GetString(), Is.EqualTo(Device.Cpu.Name));

            JsonElement pretraining = root.GetProperty("pretraining");
            Assert.That(pretraining.GetProperty("steps").GetInt64(), Is.EqualTo(6));
            // The last logged step is past the late-loss step: every loss term of SPEC section 6 trained.
            JsonElement last = pretraining.GetProperty("last_logged");
            foreach (string term in new[] { "loss", "loss_clip_v1", "loss_clip_v2", "loss_ntxent", "loss_sla_t2i", "loss_sla_i2t" })
                Assert.That(double.IsFinite(last.GetProperty(term).GetDouble()), $"{term} is not finite");

            JsonElement evaluations = root.GetProperty("evaluations");
            Assert.That(evaluations.EnumerateObject().Select(p => p.Name), Is.EqualTo(EvaluationKeys));
            foreach (string key in EvaluationKeys)
            {
                JsonElement e = evaluations.GetProperty(key);
                int classes = e.GetProperty("classes").GetArrayLength();
                Assert.That(classes, Is.EqualTo(key.EndsWith("density", StringComparison.Ordinal) ? 4 : 7), key);
                JsonElement metrics = e.GetProperty("metrics");
                foreach (string m in new[] { "accuracy", "balanced_accuracy" })
                    Assert.That(metrics.GetProperty(m).GetDouble(), Is.InRange(0.0, 1.0), $"{key}.{m}");
                Assert.That(metrics.GetProperty("confusion_matrix").GetArrayLength(), Is.EqualTo(classes), key);
                Assert.That(metrics.GetProperty("confusion_matrix").EnumerateArray().Sum(r => r.EnumerateArray().Sum(v => v.GetInt64())),
                    Is.EqualTo(e.GetProperty("images").GetInt32()).And.GreaterThan(0), key);
                Assert.That(e.GetProperty("pictures").EnumerateArray().Select(p => Path.GetFileName(p.GetString())), Does.Contain("confusion.png"), key);
                if (key.StartsWith("zero_shot", StringComparison.Ordinal))
                    Assert.That(e.GetProperty("pictures").EnumerateArray().Select(p => Path.GetFileName(p.GetString())), Does.Contain("roc.png"), key);
            }

            JsonElement time = root.GetProperty("time");
            Assert.That(time.GetProperty("phases").GetArrayLength(), Is.EqualTo(6));
            foreach (JsonElement phase in time.GetProperty("phases").EnumerateArray())
                Assert.That(phase.GetProperty("wall_seconds").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That(time.GetProperty("total_cpu_seconds").GetDouble(), Is.GreaterThan(0));

            string[] files = root.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToArray();
            Assert.That(files, Does.Contain("pretrain/loss.png").And.Contain("pretrain/metrics.jsonl"));
            foreach (string f in files) Assert.That(File.Exists(Path.Combine(dir, f)), $"{f} listed but missing");

            string[] summary = DemoSummary.Lines(result).ToArray();
            Assert.That(summary.Count(l => l.StartsWith("zero-shot", StringComparison.Ordinal) || l.StartsWith("linear probe", StringComparison.Ordinal)), Is.EqualTo(4));
            Assert.That(log.ToString(), Does.Contain("[1/5]").And.Contain("[5/5]"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The CI-sized demo: every phase of the real pipeline on 160 studies and 300 steps, with the
    /// earlier 14-px-patch demo ViT (C32 x2, fast) so it takes seconds. Density is the label that
    /// such a short run learns; both density evaluations must beat chance (0.25) by a wide margin.
    /// </summary>
    [Test]
    public void SmallDemoLearnsDensityAboveChance()
    {
        string dir = TempDir();
        try
        {
            var settings = new DemoSettings
            {
                Studies = 160, Width = 64, Steps = 300, WarmupSteps = 20, ProbeSteps = 200, LogEvery = 50,
                Model = MaMAConfig.Demo with
                {
                    Vision = MaMAConfig.Tiny.Vision with { ImageSize = 70, PositionGrid = 5, LayerScaleInit = 1f },
                    LateLossStep = 100,
                },
            };
            DemoResult result = new DemoPipeline(settings, Device.Cpu, TextWriter.Null).Run(dir);
            foreach (string line in DemoSummary.Lines(result)) TestContext.Out.WriteLine(line);
            Assert.That(result["zero_shot_density"].Report.BalancedAccuracy, Is.GreaterThanOrEqualTo(0.40), "zero-shot density; chance is 0.25");
            Assert.That(result["linear_probe_density"].Report.BalancedAccuracy, Is.GreaterThanOrEqualTo(0.40), "probe density; chance is 0.25");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    [Category("Slow")]
    public void RealDemoLearnsDensity()
    {
        string dir = TempDir();
        try
        {
            DemoResult result = new DemoPipeline(new DemoSettings(), Device.Cpu, TextWriter.Null).Run(dir);
            foreach (string line in DemoSummary.Lines(result)) TestContext.Out.WriteLine(line);
            Assert.That(result["zero_shot_density"].Report.BalancedAccuracy, Is.GreaterThanOrEqualTo(0.60), "chance is 0.25");
            Assert.That(result["linear_probe_density"].Report.BalancedAccuracy, Is.GreaterThanOrEqualTo(0.60), "chance is 0.25");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The evaluation issue's second bar: the demo's linear probe of BI-RADS clearly above chance
    /// (1/7). The README's run (seed 0) printed 0.280.
    /// </summary>
    [Test]
    [Category("Slow")]
    public void RealDemoProbeLearnsBirads()
    {
        string dir = TempDir();
        try
        {
            DemoResult result = new DemoPipeline(new DemoSettings(), Device.Cpu, TextWriter.Null).Run(dir);
            Assert.That(result["linear_probe_birads"].Report.BalancedAccuracy, Is.GreaterThan(1.0 / 7 + 0.05), "chance is 1/7");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ASplitWithoutLabelsIsReportedBeforePreTraining()
    {
        // 8 studies with seed 0 leave the test split without a density label: the demo used to find
        // that out after pre-training. It now stops right after writing the data.
        string dir = TempDir();
        try
        {
            var settings = new DemoSettings
            {
                Studies = 8, Width = 64, Steps = 6, WarmupSteps = 1, MicroBatch = 4, ProbeSteps = 4, ProbeBatch = 8, EvalBatch = 16,
                Model = MaMAConfig.Demo with { LateLossStep = 3 },
            };
            var e = Assert.Throws<InvalidOperationException>(() => new DemoPipeline(settings, Device.Cpu, TextWriter.Null).Run(dir))!;
            Assert.That(e.Message, Does.Contain("8 synthetic studies with seed 0").And.Contain("use more --studies"));
            Assert.That(Directory.Exists(Path.Combine(dir, "pretrain")), Is.False, "nothing was trained");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void UsageErrorsExitWithTwo()
    {
        Assert.That(MaMA.Cli.Cli.Run(["demo", "--stpes", "3"]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["demo", "--device", "tpu"]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["demo", "--studies", "2"]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["no-such-command"]), Is.EqualTo(2));
    }

    private static string TempDir() => Path.Combine(Path.GetTempPath(), "mama-demo-" + Guid.NewGuid().ToString("N"));
}
