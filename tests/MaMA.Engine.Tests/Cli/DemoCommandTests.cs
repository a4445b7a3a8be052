using System.Text.Json;
using MaMA.Engine.Serialization;

namespace MaMA.Engine.Tests.Cli;

/// <summary>The README's first command, shortened: it must learn, and write its outputs.</summary>
[TestFixture]
public sealed class DemoCommandTests
{
    [Test]
    public void DemoLearnsDensityAndWritesItsRunFolder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-demo-" + Guid.NewGuid().ToString("N"));
        try
        {
            int code = MaMA.Cli.Cli.Run(["demo", "--steps", "120", "--device", "cpu", "--out", dir, "--seed", "3"]);
            Assert.That(code, Is.EqualTo(0));
            using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
            double accuracy = summary.RootElement.GetProperty("heldout_accuracy").GetDouble();
            Assert.That(accuracy, Is.GreaterThan(0.6), "four balanced classes: chance is 0.25");
            string[] metricLines = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl"));
            Assert.That(metricLines, Has.Length.EqualTo(7), "steps 1, 20, 40, ..., 120");
            double first = JsonDocument.Parse(metricLines[0]).RootElement.GetProperty("loss").GetDouble();
            double last = JsonDocument.Parse(metricLines[^1]).RootElement.GetProperty("loss").GetDouble();
            Assert.That(last, Is.LessThan(first * 0.8));
            using SafetensorsFile model = Safetensors.Open(Path.Combine(dir, "model.safetensors"));
            Assert.That(model.Names, Is.EquivalentTo(new[] { "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias", "head.weight", "head.bias" }));
            Assert.That(model.Entries["patch_embed.proj.weight"].Shape, Is.EqualTo(new[] { 48, 1, 14, 14 }));
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
        Assert.That(MaMA.Cli.Cli.Run(["no-such-command"]), Is.EqualTo(2));
    }
}
