using System.Text.Json;
using MaMA.Cli;
using MaMA.Cli.Commands;
using MaMA.Cli.Help;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Cli;

/// <summary>
/// Rules every command shares: on/off flags (alone, true or false; anything else exit 2), the bench
/// actions' --vs torch --threads checks, sizes past one array (a usage error naming the limit; an
/// overflow deeper in is one line), usage errors that quote the help, the main help's summaries and
/// its --device line, `mama devices` taking nothing, `mama op` errors naming the op once, and
/// --seed rejecting negatives in every command that has it.
/// </summary>
[TestFixture]
public sealed class CliUsageTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "mama-cli-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliCapture.Run(args);

    [Test]
    public void AFlagIsOnAloneOrTrueOffWhenFalseAndAnythingElseIsAnError()
    {
        Assert.That(new CommandLine([]).Flag("no-pad"), Is.False);
        Assert.That(new CommandLine(["--no-pad"]).Flag("no-pad"), Is.True);
        Assert.That(new CommandLine(["--no-pad", "true"]).Flag("no-pad"), Is.True);
        Assert.That(new CommandLine(["--no-pad", "false"]).Flag("no-pad"), Is.False);
        Assert.That(new CommandLine(["--no-pad=false", "--size", "8"]).Flag("no-pad"), Is.False);
        foreach (string value in new[] { "yes", "1", "no", "in_dir" })
            Assert.That(() => new CommandLine(["--no-pad", value]).Flag("no-pad"),
                Throws.TypeOf<UsageException>().With.Message.StartWith($"--no-pad is an on/off flag").And.Message.Contains($"'{value}'"), value);
        var cl = new CommandLine(["--no-pad"]);
        cl.Flag("no-pad");
        Assert.That(cl.RejectUnknown, Throws.Nothing, "a flag read is a known option");
    }

    [TestCase("bench", "ops", "--quick", "maybe")]
    [TestCase("bench", "model", "--quick", "maybe")]
    [TestCase("bench", "model", "--bf16", "maybe")]
    [TestCase("op", "bias_gelu", "--in", "in.safetensors", "--out", "out.safetensors", "--backward", "maybe")]
    [TestCase("synth", "--out", "x", "--force", "yes")]
    [TestCase("metrics", "--logits", "1")]
    [TestCase("probe", "--resume", "yes")]
    [TestCase("finetune", "--resume", "yes")]
    [TestCase("zeroshot", "--balanced", "yes")]
    [TestCase("embed", "--patches", "no")]
    [TestCase("embed", "--sentences", "0")]
    public void EveryFlagTakesOnlyTrueOrFalse(params string[] args)
    {
        (int code, _, string stderr) = Run(args);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith($"mama {args[0]}: {args[^2]} is an on/off flag: give it alone or as {args[^2]} true|false, not '{args[^1]}'"));
    }

    [Test]
    public void BackwardFalseRunsTheForwardOnly()
    {
        string input = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor>
        {
            ["y"] = Tensor.FromArray(new[] { 0.5f, -1f, 2f, 0f, 1f, -0.25f }, [2, 3]),
            ["bias"] = Tensor.FromArray(new[] { 0.1f, 0.2f, 0.3f }, [3]),
            ["grad_out"] = Tensor.FromArray(new[] { 1f, 1f, 1f, 1f, 1f, 1f }, [2, 3]),
        });
        (int code, _, string stderr) = Run("op", "bias_gelu", "--in", input, "--out", output, "--backward", "false", "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(new[] { "out" }), "--backward false: no gradients");
    }

    [Test]
    public void Bf16FalseTimesInFp32()
    {
        string json = Path.Combine(_dir, "model.json");
        (int code, _, string stderr) = Run("bench", "model", "--quick", "--model", "text", "--repeat", "1", "--device", "cpu", "--bf16", "false", "--json", json);
        Assert.That(code, Is.EqualTo(0), stderr);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("dtype").GetString(), Is.EqualTo("fp32"));
    }

    [TestCase("ops")]
    [TestCase("model")]
    [TestCase("train")]
    public void ThreadsAreCheckedAlikeInEveryBenchAction(string action)
    {
        // libtorch aborts the whole process on zero threads, so this must never reach it.
        (int code, _, string stderr) = Run("bench", action, "--vs", "torch", "--threads", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Is.EqualTo("mama bench: --threads must be at least 1, got 0." + Environment.NewLine));
        (code, _, stderr) = Run("bench", action, "--threads", "2", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Is.EqualTo("mama bench: --threads sets libtorch's CPU threads; it needs --vs torch." + Environment.NewLine));
    }

    [Test]
    public void SizesPastOneArrayAreUsageErrorsNamingTheLimit()
    {
        (int code, _, string stderr) = Run("bench", "model", "--image-batch", "2700", "--model", "vit", "--repeat", "1", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith("mama bench: --image-batch 2700 is too large: the 2700 x 3 x 518 x 518 pixel tensor has 2173424400 elements"));
        Assert.That(stderr, Does.Contain($"at most {Array.MaxLength} (just under 2^31); the largest --image-batch here is {Array.MaxLength / (3 * 518 * 518)}."));

        (code, _, stderr) = Run("bench", "train", "--micro-batch", "100000000", "--steps", "1", "--warmup", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith("mama bench: micro-batch 100000000 (tiny) is too large"));
        Assert.That(stderr, Does.Contain($"at most {Array.MaxLength} (just under 2^31); the largest --micro-batch for tiny is {Array.MaxLength / (3 * 42 * 42)}."));
    }

    [Test]
    public void AnOverflowDeeperInIsOneLine()
    {
        var stderr = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(stderr);
        try
        {
            Assert.That(MaMA.Cli.Cli.RunCommand("bench", () => throw new OverflowException()), Is.EqualTo(1));
            // A fork-join wraps it; the same line.
            Assert.That(MaMA.Cli.Cli.RunCommand("bench", () => throw new AggregateException(new OverflowException(), new OverflowException())), Is.EqualTo(1));
        }
        finally
        {
            Console.SetError(saved);
        }
        string[] lines = stderr.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2));
        foreach (string line in lines)
        {
            Assert.That(line, Does.StartWith("mama bench: a size is too large ("));
            Assert.That(line, Does.Contain($"a tensor's array holds at most {Array.MaxLength} elements (just under 2^31)"));
        }
    }

    [Test]
    public void BenchUsageQuotesEachActionsHelp()
    {
        (int code, _, string stderr) = Run("bench", "kernels");
        Assert.That(code, Is.EqualTo(2));
        foreach (string action in new[] { "bench ops", "bench model", "bench train", "bench load" })
            Assert.That(stderr, Does.Contain("  " + HelpTexts.Usage(action)["usage: ".Length..]), action);
        foreach (string option in new[] { "--image-batch N", "--bf16", "--model vit|text", "--activation-checkpointing true|false", "--precision fp32|bf16" })
            Assert.That(stderr, Does.Contain(option));
        Assert.That(HelpTexts.Usage("bench train"), Does.EndWith("[--activation-checkpointing true|false] [--precision fp32|bf16] [--json FILE] [--vs torch [--threads N]]"),
            "the continuation line of the help joins the usage");
    }

    [Test]
    public void MainHelpSummariesCoverEveryBenchActionAndEveryOp()
    {
        (int code, string stdout, _) = Run("--help");
        Assert.That(code, Is.EqualTo(0));
        string[] lines = stdout.Split('\n');
        string bench = lines.Single(l => l.StartsWith("  bench ", StringComparison.Ordinal));
        foreach (string action in new[] { "bench ops", "bench model", "bench train", "bench load" }) Assert.That(bench, Does.Contain(action));
        string op = lines.Single(l => l.StartsWith("  op ", StringComparison.Ordinal));
        Assert.That(OpCommand.Ops.Keys, Has.Count.GreaterThanOrEqualTo(9));
        foreach (string name in OpCommand.Ops.Keys) Assert.That(op, Does.Contain(name));
        foreach (string name in OpCommand.Ops.Keys) Assert.That(HelpTexts.All["op"], Does.Contain(name));
    }

    [Test]
    public void MainHelpSaysWhichCommandsTakeDevice()
    {
        (_, string stdout, _) = Run("--help");
        Assert.That(stdout, Does.Not.Contain("Common option"));
        Assert.That(stdout, Does.Contain("--device auto|cuda|cuda:K|opencl|cpu|ilgpu-cpu"));
        Assert.That(HelpTexts.All["demo"], Does.Contain("auto|cuda|cuda:K|opencl|cpu|ilgpu-cpu"), "the shared --device help text");
        string taken = stdout.Split('\n').Single(l => l.StartsWith("  taken by ", StringComparison.Ordinal)).Trim();
        string[] with = taken["taken by ".Length..].TrimEnd('.').Split(", ");
        Assert.That(with, Is.EquivalentTo(new[] { "demo", "bench", "op", "forward", "pretrain", "probe", "finetune", "zeroshot", "embed", "explain", "golden" }));
        // The others really reject it.
        foreach (string command in new[] { "devices", "prepare", "captions", "synth", "import", "assemble", "metrics" })
        {
            (int code, _, string stderr) = Run(command, "--device", "cpu");
            Assert.That(code, Is.EqualTo(2), command);
            Assert.That(stderr, Does.StartWith($"mama {command}: Unknown option: --device."), command);
        }
    }

    [Test]
    public void DevicesTakesNoOptionsAndNoArguments()
    {
        (int code, _, string stderr) = Run("devices", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Is.EqualTo("mama devices: Unknown option: --device. This command takes no options." + Environment.NewLine));
        (code, _, stderr) = Run("devices", "foo");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Is.EqualTo("mama devices: unexpected argument 'foo'; `mama devices` takes no arguments." + Environment.NewLine));
    }

    [Test]
    public void OpErrorsNameTheOpOnce()
    {
        string input = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor> { ["y"] = Tensor.FromArray(new[] { 1f, 2f, 3f }, [1, 3]) });
        (int code, _, string stderr) = Run("op", "bias_gelu", "--in", input, "--out", Path.Combine(_dir, "out.safetensors"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Is.EqualTo("mama op: bias_gelu: input tensor 'bias' is missing (inputs present: y)." + Environment.NewLine));
    }

    /// <summary>A file or folder an option names that does not exist is a usage mistake (exit 2) for every command, named with its option.</summary>
    [TestCase("op", "attention", "--in", "/nonexistent/in.safetensors", "--out", "/tmp/o.safetensors", "--in")]
    [TestCase("captions", "--embed", "/nonexistent/embed", "--split", "train", "--out", "/tmp/c.jsonl", "--embed")]
    [TestCase("pretrain", "--config", "/nonexistent/x.json", "--out", "/tmp/r", "--config")]
    [TestCase("probe", "--model", "/nonexistent/model", "--model")]
    [TestCase("forward", "--model", "/nonexistent/model", "--in", "/nonexistent/in.safetensors", "--out", "/tmp/f.safetensors", "--model")]
    [TestCase("assemble", "--vision", "/nonexistent/v", "--text", "/nonexistent/t", "--out", "/tmp/a", "--vision")]
    public void AMissingInputPathIsAUsageMistake(params string[] argsAndOption)
    {
        string option = argsAndOption[^1];
        (int code, _, string stderr) = Run(argsAndOption[..^1]);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain($"{option} /nonexistent/").And.Contain("no such"));
    }

    [TestCase("probe", "--model", "tiny")]
    [TestCase("finetune", "--model", "tiny")]
    [TestCase("zeroshot")]
    [TestCase("embed")]
    public void NegativeSeedsAreRejectedAlike(params string[] args)
    {
        (int code, _, string stderr) = Run([.. args, "--seed", "-1"]);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Is.EqualTo($"mama {args[0]}: --seed must be a non-negative integer, got '-1'." + Environment.NewLine));
    }
}
