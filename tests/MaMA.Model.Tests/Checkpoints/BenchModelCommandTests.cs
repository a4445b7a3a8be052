using System.Text.Json;
using static MaMA.Model.Tests.Checkpoints.CheckpointTestKit;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary><c>mama bench model --quick</c>: both models timed on the engine and TorchSharp, JSON written, usage errors.</summary>
[TestFixture]
[NonParallelizable]
public sealed class BenchModelCommandTests
{
    [Test]
    public void QuickRunAgainstTorchWritesJson()
    {
        string json = Path.Combine(TempDir("bench"), "models.json");
        (int code, string output, string err) = Mama("bench", "model", "--quick", "--repeat", "1", "--device", "cpu", "--vs", "torch", "--threads", "1", "--json", json);
        TestContext.Out.WriteLine(output + err);
        Assert.That(code, Is.EqualTo(0), err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.That(rows.Select(r => r.GetProperty("model").GetString()), Is.EqualTo(new[] { "vit-b14-reg4", "biomedlm-block-lora" }));
        foreach (var r in rows)
        {
            Assert.That(r.GetProperty("forward_ms").GetDouble(), Is.GreaterThan(0));
            Assert.That(r.GetProperty("torch_train_step_ms").GetDouble(), Is.GreaterThan(0));
            Assert.That(r.GetProperty("engine_peak_bytes").GetInt64(), Is.GreaterThan(0));
            // What the forward keeps for the backward: the output at least, never more than the peak.
            long saved = r.GetProperty("saved_for_backward_bytes").GetInt64();
            Assert.That(saved, Is.GreaterThan(0));
            Assert.That(saved, Is.LessThanOrEqualTo(r.GetProperty("engine_peak_bytes").GetInt64()));
        }
    }

    [TestCase("vit", "vit-b14-reg4")]
    [TestCase("text", "biomedlm-block-lora")]
    public void ModelTimesOneAlone(string model, string row)
    {
        string json = Path.Combine(TempDir("bench-one"), "model.json");
        (int code, string output, string err) = Mama("bench", "model", "--quick", "--repeat", "1", "--device", "cpu", "--model", model, "--json", json);
        Assert.That(code, Is.EqualTo(0), err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("model").GetString()), Is.EqualTo(new[] { row }));
        Assert.That(output, Does.Contain(row));
    }

    [Test]
    public void UsageErrors()
    {
        Assert.That(Mama("bench", "model", "--model", "gpt2").Code, Is.EqualTo(2));
        Assert.That(Mama("bench", "model", "--threads", "2").Code, Is.EqualTo(2));
        Assert.That(Mama("bench", "model", "--vs", "pytorch").Code, Is.EqualTo(2));
        Assert.That(Mama("bench", "model", "--repeat", "0").Code, Is.EqualTo(2));
    }
}
