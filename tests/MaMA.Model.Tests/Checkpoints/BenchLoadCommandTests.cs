using System.Text.Json;
using static MaMA.Model.Tests.Checkpoints.CheckpointTestKit;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary><c>mama bench load</c>: a tiny folder written and loaded in its parts, the old way beside it, and usage errors.</summary>
[TestFixture]
[NonParallelizable]
public sealed class BenchLoadCommandTests
{
    [Test]
    public void MakesATinyFolder_AndTimesItsLoadInParts()
    {
        string dir = TempDir("bench-load");
        string model = Path.Combine(dir, "tiny"), json = Path.Combine(dir, "load.json");
        (int code, string output, string err) = Mama("bench", "load", "--make", "tiny", "--model", model, "--drawn", "--device", "cpu", "--json", json);
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(File.Exists(Path.Combine(model, "model.safetensors")), Is.True, "--make wrote the folder");
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var parts = doc.RootElement.GetProperty("parts").EnumerateArray()
            .ToDictionary(p => p.GetProperty("part").GetString()!, p => p.GetProperty("seconds").GetDouble());
        Assert.That(parts.Keys, Is.EqualTo(new[]
        {
            "make: draw MaMA tiny from seed 0 and save", "load: ModelFactory.Load, the four parts below", "open the folder, SHA-256 of the weights",
            "build without drawing", "strict load", "finite check",
            "before 2026-11-29: build with the weights drawn (seed 0)", "before 2026-11-29: strict load over them",
        }));
        Assert.That(parts.Values, Has.All.GreaterThanOrEqualTo(0));
        double sum = parts["open the folder, SHA-256 of the weights"] + parts["build without drawing"] + parts["strict load"] + parts["finite check"];
        Assert.That(parts["load: ModelFactory.Load, the four parts below"], Is.EqualTo(sum).Within(1e-9), "the load line is its parts' sum");
        Assert.That(output, Does.Contain("strict load"));

        // An existing folder is timed as it is.
        (code, output, err) = Mama("bench", "load", "--model", model, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(output, Does.Not.Contain("make:").And.Not.Contain("before 2026-11-29"));
    }

    [Test]
    public void UsageErrors()
    {
        string dir = TempDir("bench-load-usage");
        Assert.That(Mama("bench", "load").Code, Is.EqualTo(2), "no --model");
        Assert.That(Mama("bench", "load", "--model", Path.Combine(dir, "absent")).Code, Is.EqualTo(2), "no such folder");
        Assert.That(Mama("bench", "load", "--model", dir, "--make", "tiny").Code, Is.EqualTo(2), "--make over an existing folder");
        Assert.That(Mama("bench", "load", "--model", Path.Combine(dir, "new"), "--make", "huge").Code, Is.EqualTo(2), "--make takes tiny or paper");
        Assert.That(Directory.Exists(Path.Combine(dir, "new")), Is.False, "nothing written on a usage error");
    }
}
