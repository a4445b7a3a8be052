using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaMA.Bench.Cases;
using MaMA.Engine.Tests.Golden;
using MaMA.Interop.Torch.Parity;

namespace MaMA.Engine.Tests.Cli;

/// <summary>
/// `mama bench ops`: the torch-free engine bench at --quick shapes (the path the single-file publish
/// runs on a GPU machine), its JSON, its usage errors, the --vs torch path of source builds, and
/// tools/device_bench.py (case list equal to the engine's, table merge on fixture reports).
/// </summary>
[TestFixture]
public sealed class BenchCommandTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "mama-bench-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void QuickJsonHasOneRowPerCaseWithTimesAndFlops(string device)
    {
        string json = Path.Combine(_dir, "engine.json");
        Assert.That(MaMA.Cli.Cli.Run(["bench", "ops", "--quick", "--device", device, "--repeat", "1", "--json", json]), Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("device").GetString(), Does.StartWith(device));
        Assert.That(root.GetProperty("shapes").GetString(), Is.EqualTo("quick"));
        Assert.That(root.GetProperty("repeat").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("torch").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("engine_version").GetString(), Is.Not.Empty);
        IReadOnlyList<BenchCase> cases = FamilyCases.Get(BenchShapes.Quick);
        JsonElement[] rows = root.GetProperty("rows").EnumerateArray().ToArray();
        Assert.That(rows.Select(r => r.GetProperty("op").GetString()), Is.EqualTo(cases.Select(c => c.Name)));
        Assert.That(rows.Select(r => r.GetProperty("family").GetString()).Distinct(),
            Is.EqualTo(new[] { "attention", "lora_linear", "sla_loss", "clip_loss", "ntxent_loss", "matmul", "layer_norm", "layer_scale", "qkv_split", "bias_gelu", "scaled_residual", "bias_split_heads", "dropout" }));
        for (int i = 0; i < rows.Length; i++)
        {
            JsonElement r = rows[i];
            string op = cases[i].Name;
            Assert.That(r.GetProperty("dtype").GetString(), Is.EqualTo(cases[i].DTypeName), op);
            Assert.That(r.GetProperty("forward_flops").GetInt64(), Is.EqualTo(cases[i].ForwardFlops), op);
            Assert.That(r.GetProperty("forward_backward_flops").GetInt64(), Is.EqualTo(cases[i].ForwardBackwardFlops), op);
            foreach (string pass in new[] { "forward", "forward_backward" })
            {
                double ms = r.GetProperty($"engine_{pass}_ms").GetDouble();
                long flops = r.GetProperty($"{pass}_flops").GetInt64();
                Assert.That(ms, Is.GreaterThan(0), op);
                if (flops > 0)
                    Assert.That(r.GetProperty($"engine_{pass}_tflops").GetDouble(), Is.EqualTo(flops / (ms * 1e-3) / 1e12).Within(1e-9).Percent, op);
                else
                    Assert.That(r.GetProperty($"engine_{pass}_tflops").ValueKind, Is.EqualTo(JsonValueKind.Null), $"{op}: a memory-bound case has no TFLOP/s");
                Assert.That(r.GetProperty($"torch_{pass}_ms").ValueKind, Is.EqualTo(JsonValueKind.Null), op);
            }
        }
    }

    [Test]
    public void CaseFlopsFollowTheShapes()
    {
        // Paper ViT attention: B 2, H 12, T 1374, D 64, all pairs: 4 * 12 * 64 * 2 * 1374^2 forward.
        BenchCase vit = FamilyCases.Get(BenchShapes.Paper)[0];
        Assert.That(vit.Name, Is.EqualTo("attention vit B2 H12 T1374 D64"));
        Assert.That(vit.ForwardFlops, Is.EqualTo(4L * 12 * 64 * 2 * 1374 * 1374));
        Assert.That(vit.ForwardBackwardFlops, Is.EqualTo(vit.ForwardFlops * 7 / 2));
        // Causal visits T (T + 1) / 2 pairs per batch row and head.
        var causal = new AttentionCase("gpt2", 4, 20, 144, 128, Causal: true, KeptKeys: null, Layer: 0, Bf16: false);
        Assert.That(causal.Pairs, Is.EqualTo(4L * 144 * 145 / 2));
        // Padding on top of causality: row b sees min(i + 1, kept[b]) keys.
        var padded = new AttentionCase("gpt2", 2, 1, 4, 8, Causal: true, KeptKeys: [4, 2], Layer: 11, Bf16: false);
        Assert.That(padded.Pairs, Is.EqualTo((1 + 2 + 3 + 4) + (1 + 2 + 2 + 2)));
        var lora = new LoraCase(576, 2560, 7680, 8, 4f);
        Assert.That(lora.ForwardFlops, Is.EqualTo(2L * 576 * 2560 * 7680 + 2L * 576 * 8 * (2560 + 7680)));
    }

    [Test]
    public void FamilyCaseDataIsTheParityCatalogsDraw()
    {
        // --vs torch used OpData for these cases; BenchData must draw the same values from the same seed.
        foreach (BenchCase c in FamilyCases.Get(BenchShapes.Quick))
        {
            var op = new OpCase(c.Name, c.Inputs.Select(i => new OpInput(i.Name, i.Shape)).ToArray(), _ => throw new NotSupportedException(), _ => throw new NotSupportedException());
            OpData expected = OpData.Generate(op, EngineBench.Seed);
            BenchData actual = BenchData.Generate(c, EngineBench.Seed);
            for (int i = 0; i < c.Inputs.Length; i++) Assert.That(actual.Values[i], Is.EqualTo(expected.Floats[i]), $"{c.Name} input {i}");
        }
    }

    [Test]
    public void OnlyKeepsMatchingRows()
    {
        string json = Path.Combine(_dir, "clip.json");
        Assert.That(MaMA.Cli.Cli.Run(["bench", "ops", "--quick", "--device", "cpu", "--repeat", "1", "--only", "CLIP", "--json", json]), Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("op").GetString()), Is.EqualTo(new[] { "clip_loss N16 E32" }));
    }

    [Test]
    public void VsTorchAddsLibtorchTimesInSourceBuilds()
    {
        string json = Path.Combine(_dir, "vs.json");
        Assert.That(MaMA.Cli.Cli.Run(["bench", "ops", "--quick", "--vs", "torch", "--threads", "1", "--device", "cpu", "--repeat", "1", "--only", "lora", "--json", json]), Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("torch").GetString(), Is.Not.Empty);
        Assert.That(doc.RootElement.GetProperty("torch_threads").GetInt32(), Is.EqualTo(1));
        JsonElement row = doc.RootElement.GetProperty("rows").EnumerateArray().Single();
        Assert.That(row.GetProperty("torch_forward_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(row.GetProperty("torch_forward_backward_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(row.GetProperty("engine_forward_tflops").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void EveryCaseHasALibtorchComputation([Values] BenchShapes shapes)
    {
        // --vs torch times every case; one without a TorchSharp side would end the whole run.
        foreach (BenchCase c in FamilyCases.Get(shapes))
            Assert.That(() => FamilyBench.Torch(c), Throws.Nothing, c.Name);
    }

    [Test]
    public void MemoryBoundCasesMatchLibtorchOnTheirInputs()
    {
        // The torch computations without FLOPs, run on the engine's quick-shape inputs, give the engine's outputs
        // (dropout: the same rule and rate; the masks come from different generators).
        foreach (BenchCase c in FamilyCases.Get(BenchShapes.Quick).Where(c => c.ForwardFlops == 0))
        {
            BenchData data = BenchData.Generate(c, seed: 3);
            float[] expected = FamilyBench.Torch(c)(Enumerable.Range(0, c.Inputs.Length).Select(i => FamilyBench.TorchInput(data, i)).ToArray())
                .contiguous().data<float>().ToArray();
            float[] actual = c.Engine(Enumerable.Range(0, c.Inputs.Length).Select(i => data.EngineInput(i, Devices.Device.Cpu)).ToArray()).ToFloatArray();
            if (c is DropoutCase d)
            {
                // Each side its own generator: the same rule (0 or x / (1 - p)), not the same mask.
                float[] x = data.Values[0];
                foreach ((string side, float[] y) in new[] { ("engine", actual), ("libtorch", expected) })
                {
                    for (int i = 0; i < x.Length; i++)
                        Assert.That(y[i] == 0f || Math.Abs(y[i] - x[i] / (1f - d.P)) <= 1e-5f * Math.Abs(x[i]), $"{c.Name}: {side} element {i}");
                    Assert.That(y.Count(v => v == 0f) / (double)y.Length, Is.EqualTo(d.P).Within(0.05), $"{c.Name}: {side} drop rate");
                }
                continue;
            }
            Assert.That(actual, Is.EqualTo(expected).Within(1e-5f), c.Name);
        }
    }

    [TestCase("ops", "--repeat", "0")]
    [TestCase("ops", "--vs", "numpy")]
    [TestCase("ops", "--vs")]
    [TestCase("ops", "--device", "tpu")]
    [TestCase("ops", "--only", "no such op")]
    [TestCase("ops", "--threads", "2")]
    [TestCase("ops", "--quick=yes")]
    [TestCase("ops", "--shapes", "small")]
    [TestCase("ops", "--json", "/no/such/folder/bench.json")]
    [TestCase("kernels")]
    public void BadOptionsExitWithTwo(params string[] args)
    {
        var error = new StringWriter();
        TextWriter before = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.That(MaMA.Cli.Cli.Run(["bench", .. args]), Is.EqualTo(2));
        }
        finally
        {
            Console.SetError(before);
        }
        Assert.That(error.ToString(), Does.StartWith("mama bench: "));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void PythonCaseListEqualsTheEngines(bool quick)
    {
        string output = Python(quick ? ["list", "--quick"] : ["list"]);
        JsonNode python = JsonNode.Parse(output)!;
        // Through text, so both sides hold parsed JSON values (not .NET ints and floats).
        JsonArray engine = JsonNode.Parse(FamilyCases.Describe(quick ? BenchShapes.Quick : BenchShapes.Paper).ToJsonString())!.AsArray();
        Assert.That(python.AsArray().Select(c => c!["name"]!.GetValue<string>()), Is.EqualTo(engine.Select(c => c!["name"]!.GetValue<string>())));
        for (int i = 0; i < engine.Count; i++)
            AssertSameJson(python[i], engine[i], engine[i]!["name"]!.GetValue<string>());
    }

    [Test]
    public void TableMergesEngineAndTorchReports()
    {
        string fixtures = Path.Combine(GoldenFiles.RepoRoot(), "tests", "MaMA.Engine.Tests", "Cli", "BenchFixtures");
        string table = Python(["table", "--engine", Path.Combine(fixtures, "engine.json"), "--torch", Path.Combine(fixtures, "torch.json"), "--driver", "550.54.15"]);
        Assert.That(table.ReplaceLineEndings(), Is.EqualTo(File.ReadAllText(Path.Combine(fixtures, "table.md")).ReplaceLineEndings()));

        // No torch report (PyTorch failed) and an unknown card: engine columns only, peak n/a.
        string engineOnly = Python(["table", "--engine", Path.Combine(fixtures, "engine.json"), "--torch", Path.Combine(_dir, "missing.json"), "--card", "Tesla T4"]);
        Assert.That(engineOnly, Does.Contain("bf16 dense peak n/a (pass --peak)"));
        Assert.That(engineOnly, Does.Contain("| clip_loss N16 E32 | fwd | 0.500 | n/a | - | 4.000 | n/a | n/a | n/a |"));
        string withPeak = Python(["table", "--engine", Path.Combine(fixtures, "engine.json"), "--torch", Path.Combine(_dir, "missing.json"), "--card", "Tesla T4", "--peak", "65"]);
        Assert.That(withPeak, Does.Contain("| clip_loss N16 E32 | fwd | 0.500 | n/a | - | 4.000 | n/a | 6.2% | n/a |"));
    }

    [Test]
    public void ModelTableShowsStepTimesAndSavedBytesOfBothSides()
    {
        // An engine bf16 `bench model` report and a torch `step` report with fp32 and bf16 rows:
        // the bf16 row pairs up, the fp32 row has only torch's side.
        string fixtures = Path.Combine(GoldenFiles.RepoRoot(), "tests", "MaMA.Engine.Tests", "Cli", "BenchFixtures");
        string table = Python(["table", "--engine", Path.Combine(fixtures, "engine.json"), "--torch", Path.Combine(fixtures, "torch.json"),
            "--engine-model", Path.Combine(fixtures, "engine-model-bf16.json"), "--torch-model", Path.Combine(fixtures, "torch-step.json")]);
        Assert.That(table, Does.Contain("| model | dtype | engine fwd ms | engine train step ms | torch fwd ms | torch train step ms | torch / engine (train) | engine saved MB | torch saved MB |"));
        Assert.That(table, Does.Contain("| vit-b14-reg4 518px b36 | bf16-autocast | 400.50 | 1250.00 | 35.10 | 115.70 | 0.09 | 22100 | 20500 |"));
        Assert.That(table, Does.Contain("| vit-b14-reg4 518px b36 | fp32 | n/a | n/a | 120.00 | 380.00 | n/a | n/a | 31000 |"));
    }

    /// <summary>Equal JSON, numbers compared as values (Python writes 4.0 where .NET writes 4).</summary>
    private static void AssertSameJson(JsonNode? actual, JsonNode? expected, string path)
    {
        switch (expected)
        {
            case null:
                Assert.That(actual, Is.Null, path);
                break;
            case JsonObject o:
                Assert.That(actual, Is.InstanceOf<JsonObject>(), path);
                Assert.That(actual!.AsObject().Select(p => p.Key).Order(), Is.EqualTo(o.Select(p => p.Key).Order()), path);
                foreach (var (key, value) in o) AssertSameJson(actual[key], value, $"{path}.{key}");
                break;
            case JsonArray a:
                Assert.That(actual, Is.InstanceOf<JsonArray>(), path);
                Assert.That(actual!.AsArray(), Has.Count.EqualTo(a.Count), path);
                for (int i = 0; i < a.Count; i++) AssertSameJson(actual[i], a[i], $"{path}[{i}]");
                break;
            default:
                Assert.That(actual, Is.Not.Null, path);
                JsonValueKind kind = expected.GetValueKind();
                Assert.That(actual!.GetValueKind(), Is.EqualTo(kind), path);
                if (kind == JsonValueKind.Number)
                    Assert.That(actual.GetValue<JsonElement>().GetDouble(), Is.EqualTo(expected.GetValue<JsonElement>().GetDouble()), path);
                else
                    Assert.That(actual.ToJsonString(), Is.EqualTo(expected.ToJsonString()), path);
                break;
        }
    }

    /// <summary>stdout of tools/device_bench.py (python3 from PATH; the test is skipped where there is none).</summary>
    private static string Python(string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = GoldenFiles.RepoRoot() };
        psi.ArgumentList.Add(Path.Combine("tools", "device_bench.py"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("python3 is not on PATH");
            throw;
        }
        using (process)
        {
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
            Assert.That(process.WaitForExit(60_000), Is.True, "device_bench.py did not finish in 60 s");
            Assert.That(process.ExitCode, Is.EqualTo(0), $"device_bench.py {string.Join(' ', args)}: {stderr.Result}");
            return stdout.Result;
        }
    }
}
