using System.Reflection;
using MaMA.Engine.Memory;
using MaMA.Engine.Nn;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using EngineOps = MaMA.Engine.Ops;
using SlaLosses = MaMA.Engine.Losses.Losses;

namespace MaMA.Engine.Tests.Core;

/// <summary>
/// Kernel scratch space that cannot be had (issue #10): every CPU kernel that takes native scratch
/// does so through <see cref="ScratchMemory"/>, whose test hook (<c>FailFromBytes</c>, <c>FailKernel</c>)
/// refuses the named scratch here. Each kernel, called through its public op, must then throw the
/// engine's <see cref="DeviceOutOfMemoryException"/> naming the scratch and its size, as itself
/// (not inside an <see cref="AggregateException"/>, also where the scratch is taken on a
/// Parallel.For worker), and work again once the hook is off. The CLI prints one line and exits 1
/// for the error, also when it arrives wrapped.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ScratchOutOfMemoryTests
{
    private static Tensor Values(int[] shape, int seed, bool grad = false)
    {
        var rng = new Random(seed);
        var data = new float[(int)Shape.Numel(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        var t = Tensor.FromArray(data, shape);
        t.RequiresGrad = grad;
        return t;
    }

    [SetUp]
    public void TouchCpuDevice() => _ = Devices.CpuDevice.Instance; // sets ScratchMemory.OutOfMemory

    [TearDown]
    public void HookOff()
    {
        ScratchMemory.FailFromBytes = long.MaxValue;
        ScratchMemory.FailKernel = null;
    }

    /// <summary>Runs <paramref name="op"/> with the named scratch refused; checks the error, then that the op works again and gives the reference result.</summary>
    private static void RefusedThenRecovers(string kernel, Func<float[]> op)
    {
        float[] reference = op();
        ScratchMemory.FailKernel = kernel;
        ScratchMemory.FailFromBytes = 0;
        DeviceOutOfMemoryException e;
        try
        {
            e = Assert.Throws<DeviceOutOfMemoryException>(() => op())!;
        }
        finally
        {
            ScratchMemory.FailFromBytes = long.MaxValue;
            ScratchMemory.FailKernel = null;
        }
        Assert.That(e.Message, Does.StartWith("Out of memory on cpu: could not allocate "));
        Assert.That(e.Message, Does.Match(@"of kernel scratch space \(" + System.Text.RegularExpressions.Regex.Escape(kernel) + @"[^,]*, [0-9]+ bytes\) with "));
        Assert.That(e.Message, Does.EndWith("Lower the micro-batch size, enable activation checkpointing or train in bf16."));
        Assert.That(e.RequestedBytes, Is.GreaterThan(0));
        Assert.That(e.InnerException, Is.InstanceOf<OutOfMemoryException>());
        Assert.That(op(), Is.EqualTo(reference), "the op works again, with the same result, once the scratch can be had");
    }

    // ---- Sgemm (blocked path: m n k over 2^27) and SgemmSmall, through MatMul

    [TestCase("Sgemm packed B")]
    [TestCase("Sgemm packed A")] // taken in Parallel.For's localInit on the workers
    public void BlockedSgemm(string kernel)
    {
        Tensor a = Values([256, 1024], 1), b = Values([1024, 640], 2); // 2^28 multiply-adds
        RefusedThenRecovers(kernel, () => EngineOps.MatMul(a, b).ToFloatArray());
    }

    [Test]
    public void SmallSgemmPackedB()
    {
        Tensor a = Values([64, 96], 3), b = Values([80, 96], 4); // B transposed: not row-major, so packed per call
        RefusedThenRecovers("SgemmSmall packed B", () => EngineOps.MatMul(a, b, transposeB: true).ToFloatArray());
    }

    // ---- LoRA linear: Ops/LoraLinear's B^T and LoraSimd's partials and dropout rows (in CpuParallel.For / Parallel.For)

    private static float[] Lora(bool backward, float dropout)
    {
        const int m = 1024, inF = 64, outF = 48, r = 8;
        Tensor x = Values([m, inF], 5, grad: true), w = Values([inF, outF], 6), bias = Values([outF], 7, grad: true);
        Tensor la = Values([r, inF], 8, grad: true), lb = Values([outF, r], 9, grad: true);
        Tensor y = EngineOps.LoraLinear(x, w, bias, la, lb, 2f, WeightLayout.Conv1D, dropout, seed: 11, offset: 0, training: dropout > 0f);
        if (!backward) return y.ToFloatArray();
        y.Backward(Values([m, outF], 10));
        return [.. x.Grad!.ToFloatArray(), .. la.Grad!.ToFloatArray(), .. lb.Grad!.ToFloatArray(), .. bias.Grad!.ToFloatArray()];
    }

    [TestCase("LoraLinear B^T", false, 0f)]
    [TestCase("LoraLinear dB^T", true, 0f)]
    [TestCase("LoraSimd dropout row", false, 0.25f)] // CpuParallel.For body
    [TestCase("LoraSimd dB partials", true, 0f)]
    [TestCase("LoraSimd dbias partials", true, 0f)]
    [TestCase("LoraSimd dA partials", true, 0f)]
    [TestCase("LoraSimd dropout mask", true, 0.25f)] // Parallel.For body
    [TestCase("LoraSimd masked rows", true, 0.25f)]
    public void LoraLinear(string kernel, bool backward, float dropout) => RefusedThenRecovers(kernel, () => Lora(backward, dropout));

    // ---- Attention (Parallel.For over query blocks / heads)

    private static float[] Attention(bool backward)
    {
        int[] shape = [2, 3, 40, 24]; // d = 24: padded V rows in the forward scratch too
        Tensor q = Values(shape, 12, grad: true), k = Values(shape, 13, grad: true), v = Values(shape, 14, grad: true);
        Tensor o = EngineOps.Attention(q, k, v, null, causal: true, 0.2f);
        if (!backward) return o.ToFloatArray();
        o.Backward(Values(shape, 15));
        return [.. q.Grad!.ToFloatArray(), .. k.Grad!.ToFloatArray(), .. v.Grad!.ToFloatArray()];
    }

    [TestCase("AttentionCpu forward", false)]
    [TestCase("AttentionCpu backward", true)]
    public void Attention(string kernel, bool backward) => RefusedThenRecovers(kernel, () => Attention(backward));

    // ---- Symmetric local alignment (Parallel.For over patch blocks / column chunks)

    private static float[] LocalAlignment(bool backward)
    {
        const int n = 4, p = 48, e = 40;
        Tensor patches = Values([n, p, e], 16, grad: true), sentences = Values([9, e], 17, grad: true);
        Tensor offsets = Tensor.FromArray(new long[] { 0, 2, 5, 6, 9 }, [n + 1]);
        (Tensor t2i, Tensor i2t) = SlaLosses.LocalAlignmentScores(patches, sentences, offsets);
        if (!backward) return [.. t2i.ToFloatArray(), .. i2t.ToFloatArray()];
        EngineOps.Add(EngineOps.Sum(t2i), EngineOps.Sum(EngineOps.Mul(i2t, i2t))).Backward();
        return [.. patches.Grad!.ToFloatArray(), .. sentences.Grad!.ToFloatArray()];
    }

    [TestCase("LocalAlignmentCpu column max partials", false)]
    [TestCase("LocalAlignmentCpu i2t partials", false)]
    [TestCase("LocalAlignmentCpu forward", false)]
    [TestCase("LocalAlignmentCpu merged column max", false)]
    [TestCase("LocalAlignmentCpu image coefficients", true)]
    [TestCase("LocalAlignmentCpu backward", true)]
    public void LocalAlignment(string kernel, bool backward) => RefusedThenRecovers(kernel, () => LocalAlignment(backward));

    // ---- the fork-join helpers

    [Test]
    public void CpuParallelLetsAnOutOfMemoryThroughAndKeepsOtherFailuresAggregated()
    {
        static DeviceOutOfMemoryException Oom() => new("cpu", 1, 0, null, null, " of kernel scratch space (test, 1 bytes)");
        Assert.Throws<DeviceOutOfMemoryException>(() => CpuParallel.For(1 << 20, 1 << 10, (_, _) => throw Oom()));
        Assert.Throws<DeviceOutOfMemoryException>(() => CpuParallel.ForRows(1 << 12, 1 << 10, (_, _) => throw Oom()));
        Assert.Throws<DeviceOutOfMemoryException>(() => CpuParallel.ForClaimed(64, _ => throw Oom()));
        if (Environment.ProcessorCount > 1)
        {
            // Items fail with another error as well: nothing is hidden, the aggregate stays.
            Assert.Throws<AggregateException>(() => CpuParallel.For(1 << 20, 1 << 10, (_, _) =>
                throw new AggregateException(Oom(), new InvalidDataException("other"))));
        }
        Assert.That(CpuParallel.IsOutOfMemory(new AggregateException(Oom(), new AggregateException(Oom()))), Is.True);
        Assert.That(CpuParallel.IsOutOfMemory(new AggregateException(Oom(), new OutOfMemoryException())), Is.False);
        Assert.That(CpuParallel.IsOutOfMemory(new AggregateException()), Is.False);
    }

    // ---- the CLI's top-level handler

    private static (int Code, string Stderr) Capture(Func<int> run)
    {
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (run(), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    private static readonly DeviceOutOfMemoryException Scratch =
        new("cpu", 3L << 20, 5L << 20, null, new OutOfMemoryException(), " of kernel scratch space (AttentionCpu forward, 3145728 bytes)");

    public static IEnumerable<TestCaseData> Wrapped()
    {
        yield return new TestCaseData(Scratch).SetArgDisplayNames("itself");
        yield return new TestCaseData(new AggregateException(Scratch, Scratch)).SetArgDisplayNames("aggregate");
        yield return new TestCaseData(new AggregateException(new AggregateException(Scratch))).SetArgDisplayNames("nested aggregate");
        yield return new TestCaseData(new TargetInvocationException(Scratch)).SetArgDisplayNames("target invocation");
        yield return new TestCaseData(new TargetInvocationException(new AggregateException(Scratch))).SetArgDisplayNames("target invocation of aggregate");
        yield return new TestCaseData(new TypeInitializationException("T", Scratch)).SetArgDisplayNames("type initializer");
    }

    [TestCaseSource(nameof(Wrapped))]
    public void TheCliPrintsOneLineAndExitsOneForAWrappedOutOfMemory(Exception thrown)
    {
        (int code, string stderr) = Capture(() => MaMA.Cli.Cli.RunCommand("pretrain", () => throw thrown));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr, Is.EqualTo($"mama pretrain: {Scratch.Message}{Environment.NewLine}"));
    }

    [Test]
    public void AnAggregateWithOtherFailuresIsNotTakenForAnOutOfMemory()
    {
        var thrown = new AggregateException(Scratch, new NullReferenceException());
        Assert.That(MaMA.Cli.Cli.OutOfMemoryInside(thrown), Is.Null);
        Assert.Throws<AggregateException>(() => MaMA.Cli.Cli.RunCommand("pretrain", () => throw thrown));
    }

    [Test]
    public void MamaOpAttentionPrintsOneLineWhenItsScratchIsRefused()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-scratch-oom-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            int[] shape = [2, 3, 40, 24];
            string input = Path.Combine(dir, "in.safetensors"), output = Path.Combine(dir, "out.safetensors");
            Safetensors.Write(input, new Dictionary<string, Tensor>
            {
                ["q"] = Values(shape, 1), ["k"] = Values(shape, 2), ["v"] = Values(shape, 3),
                ["causal"] = Tensor.Scalar(1f), ["scale"] = Tensor.Scalar(0.2f),
            });
            ScratchMemory.FailKernel = "AttentionCpu";
            ScratchMemory.FailFromBytes = 0;
            (int code, string stderr) = Capture(() => MaMA.Cli.Cli.Run(["op", "attention", "--in", input, "--out", output, "--device", "cpu"]));
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1));
            Assert.That(stderr, Does.StartWith("mama op: Out of memory on cpu: could not allocate "));
            Assert.That(stderr, Does.Contain("of kernel scratch space (AttentionCpu forward, "));
        }
        finally
        {
            HookOff();
            Directory.Delete(dir, recursive: true);
        }
    }
}
