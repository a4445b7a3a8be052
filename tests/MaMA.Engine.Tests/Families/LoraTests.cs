using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// LoRA linear beyond the libtorch parity cases: dropout (which cannot match libtorch's generator)
/// against the composition of the engine's own Dropout and MatMul with the same (seed, offset),
/// forward and every gradient, on both backends; the frozen base weight; merge and unmerge; the
/// module's PEFT state-dict keys and initialisation.
/// </summary>
[TestFixture]
public sealed class LoraTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    private static float[] Values(int n, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    private static double RelativeError(float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-30));
    }

    /// <summary>The tensors of one small problem on a device, all leaves requiring grad but the weight.</summary>
    private sealed class Problem
    {
        public Problem(Device device, int[] xShape, int outF, int r, WeightLayout layout, bool bias = true, int seed = 1)
        {
            int inF = xShape[^1];
            int m = (int)Shape.Numel(xShape) / inF;
            Layout = layout;
            X = Leaf(Tensor.FromArray(Values(m * inF, seed), xShape, device));
            W = Tensor.FromArray(Values(inF * outF, seed + 1, 0.3), layout == WeightLayout.Conv1D ? [inF, outF] : [outF, inF], device);
            Bias = bias ? Leaf(Tensor.FromArray(Values(outF, seed + 2), [outF], device)) : null;
            A = Leaf(Tensor.FromArray(Values(r * inF, seed + 3, 0.5), [r, inF], device));
            B = Leaf(Tensor.FromArray(Values(outF * r, seed + 4, 0.5), [outF, r], device));
            Dy = Tensor.FromArray(Values(m * outF, seed + 5), [.. xShape[..^1], outF], device);
        }

        public WeightLayout Layout { get; }

        public Tensor X { get; }

        public Tensor W { get; }

        public Tensor? Bias { get; }

        public Tensor A { get; }

        public Tensor B { get; }

        public Tensor Dy { get; }

        private static Tensor Leaf(Tensor t)
        {
            t.RequiresGrad = true;
            return t;
        }

        public Tensor Fused(float scaling, float p, ulong seed, ulong offset, bool training = true) =>
            EngineOps.LoraLinear(X, W, Bias, A, B, scaling, Layout, p, seed, offset, training);

        /// <summary>x W + b + s (Dropout(x) A^T) B^T from the engine's separate ops.</summary>
        public Tensor Composed(float scaling, float p, ulong seed, ulong offset)
        {
            int inF = X.Shape[^1];
            int m = (int)(X.Numel / inF);
            Tensor x2 = X.Reshape(m, inF);
            Tensor y = EngineOps.MatMul(x2, W, transposeB: Layout == WeightLayout.Linear);
            if (Bias is not null) y = EngineOps.Add(y, Bias);
            Tensor u = EngineOps.MatMul(EngineOps.Dropout(x2, p, seed, offset, training: true), A, transposeB: true);
            y = EngineOps.Add(y, EngineOps.Affine(EngineOps.MatMul(u, B, transposeB: true), scaling));
            return y.Reshape(Dy.ShapeArray);
        }

        /// <summary>Output and gradients (x, bias, A, B) of one forward + backward with upstream Dy.</summary>
        public Dictionary<string, float[]> Run(Func<Tensor> forward)
        {
            X.Grad = null;
            A.Grad = null;
            B.Grad = null;
            if (Bias is not null) Bias.Grad = null;
            Tensor y = forward();
            y.Backward(Dy);
            var result = new Dictionary<string, float[]>
            {
                ["out"] = y.ToFloatArray(),
                ["grad_x"] = X.Grad!.ToFloatArray(),
                ["grad_a"] = A.Grad!.ToFloatArray(),
                ["grad_b"] = B.Grad!.ToFloatArray(),
            };
            if (Bias is not null) result["grad_bias"] = Bias.Grad!.ToFloatArray();
            return result;
        }
    }

    private static void AssertClose(Dictionary<string, float[]> actual, Dictionary<string, float[]> expected, double tolerance, string what)
    {
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys), what);
        foreach ((string name, float[] e) in expected)
            Assert.That(RelativeError(actual[name], e), Is.LessThanOrEqualTo(tolerance), $"{what}: {name}");
    }

    [Test]
    public void DropoutMatchesDropoutThenMatMulForwardAndBackward(
        [ValueSource(nameof(Devices))] string deviceName,
        [Values(WeightLayout.Conv1D, WeightLayout.Linear)] WeightLayout layout,
        [Values("3x5x37 -> 29, r 3", "131x70 -> 45, r 8")] string size)
    {
        Device device = Device.Parse(deviceName);
        // The second size spans several row chunks of the CPU reductions and a 4-row remainder.
        var problem = size.StartsWith('3') ? new Problem(device, [3, 5, 37], 29, 3, layout) : new Problem(device, [131, 70], 45, 8, layout);
        var fused = problem.Run(() => problem.Fused(4f, 0.3f, 1234567UL, 9));
        var composed = problem.Run(() => problem.Composed(4f, 0.3f, 1234567UL, 9));
        AssertClose(fused, composed, 1e-5, $"fused vs Dropout + MatMul on {deviceName} ({layout})");
    }

    [Test]
    public void SameMaskOnCpuAndIlgpuCpu()
    {
        var cpu = new Problem(Device.Cpu, [17, 33], 40, 8, WeightLayout.Conv1D, seed: 5);
        var sim = new Problem(Device.Parse("ilgpu-cpu"), [17, 33], 40, 8, WeightLayout.Conv1D, seed: 5);
        var a = cpu.Run(() => cpu.Fused(4f, 0.5f, 77UL, 3));
        var b = sim.Run(() => sim.Fused(4f, 0.5f, 77UL, 3));
        AssertClose(b, a, 1e-5, "ilgpu-cpu vs cpu with dropout");

        // The low-rank part alone (W = 0, no bias) isolates the mask: another offset or seed must change it.
        float[] LowRank(ulong seed, ulong offset)
        {
            using var zero = Tensor.Zeros([33, 40]);
            return EngineOps.LoraLinear(cpu.X, zero, null, cpu.A, cpu.B, 4f, WeightLayout.Conv1D, 0.5f, seed, offset, training: true).ToFloatArray();
        }
        float[] reference = LowRank(77, 3);
        Assert.That(LowRank(77, 3), Is.EqualTo(reference), "same (seed, offset) repeats the mask");
        Assert.That(RelativeError(LowRank(77, 4), reference), Is.GreaterThan(0.1), "another offset, another mask");
        Assert.That(RelativeError(LowRank(78, 3), reference), Is.GreaterThan(0.1), "another seed, another mask");
    }

    [TestCase(0L)]
    [TestCase(5L)]
    [TestCase(4L * 0xFFFFFFFAL + 3)] // the 32-bit block counter wraps inside the run
    public unsafe void CpuMaskFillMatchesScalarPhilox(long e0)
    {
        // The CPU path draws eight Philox blocks at a time with AVX-512; it must equal the scalar
        // generator (and so the Dropout kernel) element for element, from any start.
        var dropout = new MaMA.Kernels.Cpu.PhiloxDropout(0.3f, 0xDEADBEEF12345UL, 0x1_0000_0007UL);
        const int n = 1001;
        var got = new float[n];
        fixed (float* p = got) dropout.Fill(e0, n, p);
        for (int i = 0; i < n; i++)
        {
            long e = e0 + i;
            var block = MaMA.Kernels.Random.Philox.Block((uint)(e >> 2), 0u, dropout.OffsetLo, dropout.OffsetHi, dropout.SeedLo, dropout.SeedHi);
            float expected = MaMA.Kernels.Random.Philox.ToUniform(block.Lane((int)(e & 3))) < 0.7f ? 1f / 0.7f : 0f;
            Assert.That(got[i], Is.EqualTo(expected), $"element {e}");
        }
        Assert.That(got.Count(v => v == 0f), Is.InRange(200, 400), "about 30% dropped");
    }

    [Test]
    public void CpuMaskEqualsTheDropoutOpMask()
    {
        const int n = 4099;
        float[] ones = Enumerable.Repeat(1f, n).ToArray();
        float[] reference = EngineOps.Dropout(Tensor.FromArray(ones, [n]), 0.25f, 42, 9, training: true).ToFloatArray();
        // The low-rank path alone with A = identity picks x's dropout factors out: x = 1, W = 0, B = I.
        var x = Tensor.FromArray(ones, [1, n]);
        float[] got = new float[n];
        for (int start = 0; start < n; start += 64)
        {
            int len = Math.Min(64, n - start);
            var a = new float[len * n];
            for (int t = 0; t < len; t++) a[t * n + start + t] = 1f;
            var b = new float[len * len];
            for (int t = 0; t < len; t++) b[t * len + t] = 1f;
            float[] y = EngineOps.LoraLinear(x, Tensor.Zeros([n, len]), null, Tensor.FromArray(a, [len, n]), Tensor.FromArray(b, [len, len]), 1f,
                WeightLayout.Conv1D, 0.25f, 42, 9, training: true).ToFloatArray();
            Array.Copy(y, 0, got, start, len);
        }
        Assert.That(got, Is.EqualTo(reference));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void EvaluationAndZeroProbabilityIgnoreDropout(string deviceName)
    {
        var problem = new Problem(Device.Parse(deviceName), [9, 21], 14, 2, WeightLayout.Conv1D);
        float[] plain = problem.Fused(4f, 0f, 0, 0, training: false).ToFloatArray();
        Assert.That(problem.Fused(4f, 0.5f, 1, 2, training: false).ToFloatArray(), Is.EqualTo(plain));
        Assert.That(problem.Fused(4f, 0f, 1, 2, training: true).ToFloatArray(), Is.EqualTo(plain));
        Assert.That(RelativeError(problem.Fused(4f, 0.5f, 1, 2, training: true).ToFloatArray(), plain), Is.GreaterThan(1e-3));
    }

    [Test]
    public void GradientsMatchFiniteDifferences()
    {
        // Tiny fp32 case in double-checked central differences: L = sum(y * dy).
        var p = new Problem(Device.Cpu, [3, 5], 4, 2, WeightLayout.Linear);
        var analytic = p.Run(() => p.Fused(2f, 0.25f, 11, 0));
        double Loss()
        {
            using var _ = Autograd.GradMode.NoGrad();
            float[] y = p.Fused(2f, 0.25f, 11, 0).ToFloatArray();
            float[] dy = p.Dy.ToFloatArray();
            return y.Select((v, i) => (double)v * dy[i]).Sum();
        }
        foreach ((string name, Tensor t) in new[] { ("grad_x", p.X), ("grad_a", p.A), ("grad_b", p.B), ("grad_bias", p.Bias!) })
        {
            float[] values = t.ToFloatArray();
            var numeric = new float[values.Length];
            const float h = 1e-2f;
            for (int i = 0; i < values.Length; i++)
            {
                float keep = values[i];
                values[i] = keep + h;
                t.CopyFromHost(MemoryMarshalBytes(values));
                double up = Loss();
                values[i] = keep - h;
                t.CopyFromHost(MemoryMarshalBytes(values));
                double down = Loss();
                values[i] = keep;
                t.CopyFromHost(MemoryMarshalBytes(values));
                numeric[i] = (float)((up - down) / (2 * h));
            }
            Assert.That(RelativeError(analytic[name], numeric), Is.LessThan(1e-3), name);
        }
    }

    private static byte[] MemoryMarshalBytes(float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void BaseWeightGetsNoGradientEvenWhenAsked(string deviceName)
    {
        var problem = new Problem(Device.Parse(deviceName), [6, 10], 7, 2, WeightLayout.Conv1D);
        problem.W.RequiresGrad = true;
        var grads = problem.Run(() => problem.Fused(4f, 0.1f, 3, 4));
        Assert.That(problem.W.Grad, Is.Null, "W is frozen by contract");
        Assert.That(grads["grad_x"].Any(v => v != 0f));
    }

    [Test]
    public void RejectsMismatchedShapesNamingTheTensor()
    {
        var x = Tensor.Zeros([4, 6]);
        var w = Tensor.Zeros([6, 5]);
        var a = Tensor.Zeros([2, 6]);
        var b = Tensor.Zeros([5, 2]);
        Assert.That(() => EngineOps.LoraLinear(x, w, null, Tensor.Zeros([2, 7]), b, 1f, WeightLayout.Conv1D), Throws.ArgumentException.With.Message.Contains("lora_A"));
        Assert.That(() => EngineOps.LoraLinear(x, w, null, a, Tensor.Zeros([5, 3]), 1f, WeightLayout.Conv1D), Throws.ArgumentException.With.Message.Contains("lora_B"));
        Assert.That(() => EngineOps.LoraLinear(x, w, Tensor.Zeros([6]), a, b, 1f, WeightLayout.Conv1D), Throws.ArgumentException.With.Message.Contains("bias"));
        Assert.That(() => EngineOps.LoraLinear(Tensor.Zeros([4, 5]), w, null, a, b, 1f, WeightLayout.Conv1D), Throws.ArgumentException.With.Message.Contains("x of shape"));
        Assert.That(() => EngineOps.LoraLinear(x, w, null, a, b, 1f, WeightLayout.Linear), Throws.ArgumentException.With.Message.Contains("lora_A"));
        Assert.That(() => EngineOps.LoraLinear(x, w, null, a, b, 1f, WeightLayout.Conv1D, dropout: 1.5f), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void MergeThenUnmergeRestoresTheWeight(
        [ValueSource(nameof(Devices))] string deviceName,
        [Values(WeightLayout.Conv1D, WeightLayout.Linear)] WeightLayout layout)
    {
        Device device = Device.Parse(deviceName);
        var problem = new Problem(device, [11, 45], 38, 8, layout, seed: 21);
        float[] original = problem.W.ToFloatArray();
        float[] adapted = problem.Fused(4f, 0f, 0, 0, training: false).ToFloatArray();

        LoraAdapter.Merge(problem.W, problem.A, problem.B, 4f, layout);
        float[] mergedWeight = problem.W.ToFloatArray();
        Tensor merged = EngineOps.Add(EngineOps.MatMul(problem.X, problem.W, transposeB: layout == WeightLayout.Linear), problem.Bias!);
        Assert.That(RelativeError(merged.ToFloatArray(), adapted), Is.LessThan(1e-5), "x (W + s delta) + b equals the adapted layer");

        LoraAdapter.Unmerge(problem.W, problem.A, problem.B, 4f, layout);
        // W1 = fl(W0 + d), W2 = fl(W1 - d) with the same d: W2 - W0 is W1's rounding error plus W2's,
        // at most one ulp of the merged value (|W1| + |W0| bounds both).
        float[] restored = problem.W.ToFloatArray();
        for (int i = 0; i < original.Length; i++)
            Assert.That(restored[i], Is.EqualTo(original[i]).Within(1.2e-7f * (Math.Abs(mergedWeight[i]) + Math.Abs(original[i]))), $"element {i}");
    }

    [Test]
    public void MergeMatchesTheExplicitDelta()
    {
        // Conv1D: W [in, out] += s * A^T B^T; Linear: W [out, in] += s * B A.
        float[] a = Values(3 * 5, 1), b = Values(4 * 3, 2);
        foreach (WeightLayout layout in new[] { WeightLayout.Conv1D, WeightLayout.Linear })
        {
            Tensor w = layout == WeightLayout.Conv1D ? Tensor.Zeros([5, 4]) : Tensor.Zeros([4, 5]);
            LoraAdapter.Merge(w, Tensor.FromArray(a, [3, 5]), Tensor.FromArray(b, [4, 3]), 2f, layout);
            float[] got = w.ToFloatArray();
            for (int k = 0; k < 5; k++)
                for (int j = 0; j < 4; j++)
                {
                    float delta = 0f;
                    for (int t = 0; t < 3; t++) delta += b[j * 3 + t] * a[t * 5 + k];
                    float actual = layout == WeightLayout.Conv1D ? got[k * 4 + j] : got[j * 5 + k];
                    Assert.That(actual, Is.EqualTo(2f * delta).Within(1e-5f), $"{layout} ({k}, {j})");
                }
        }
    }

    private sealed class Attention : Module
    {
        public Attention(Random rng) => CAttn = RegisterModule("c_attn", new MaMA.Engine.Nn.LoraLinear(16, 48, WeightLayout.Conv1D, rng));

        public MaMA.Engine.Nn.LoraLinear CAttn { get; }
    }

    [Test]
    public void ModuleHasPeftStateDictKeysAndInitialisation()
    {
        var layer = new MaMA.Engine.Nn.LoraLinear(33, 40, WeightLayout.Conv1D, new Random(3), rank: 8, alpha: 32f);
        var state = layer.StateDict();
        Assert.That(state.Keys, Is.EqualTo(new[] { "weight", "bias", "lora_A.default.weight", "lora_B.default.weight" }));
        Assert.That(state["weight"].ShapeArray, Is.EqualTo(new[] { 33, 40 }));
        Assert.That(state["lora_A.default.weight"].ShapeArray, Is.EqualTo(new[] { 8, 33 }));
        Assert.That(state["lora_B.default.weight"].ShapeArray, Is.EqualTo(new[] { 40, 8 }));
        Assert.That(layer.Scaling, Is.EqualTo(4f));
        Assert.That(layer.LoraB.ToFloatArray(), Is.All.EqualTo(0f), "B starts at zero");
        float[] a = layer.LoraA.ToFloatArray();
        float bound = 1f / MathF.Sqrt(33);
        Assert.That(a.All(v => MathF.Abs(v) <= bound), "A ~ U(-1/sqrt(in), 1/sqrt(in))");
        Assert.That(a.Max() - a.Min(), Is.GreaterThan(bound), "A is spread over its bound");
        Assert.That(layer.Weight.IsFrozen && layer.Bias!.IsFrozen, "base weight and bias are frozen");
        Assert.That(layer.Parameters().Where(p => !p.IsFrozen).Select(p => p.Name), Is.EqualTo(new[] { "lora_A.default.weight", "lora_B.default.weight" }));

        var parent = new Attention(new Random(1));
        Assert.That(parent.StateDict().Keys, Is.EqualTo(new[] { "c_attn.weight", "c_attn.bias", "c_attn.lora_A.default.weight", "c_attn.lora_B.default.weight" }));

        var same = new MaMA.Engine.Nn.LoraLinear(33, 40, WeightLayout.Conv1D, new Random(3));
        Assert.That(same.LoraA.ToFloatArray(), Is.EqualTo(a), "seeded initialisation");
    }

    [Test]
    public void ModuleTrainsOnlyTheAdapterAndItsFreshOutputIsTheBaseLayer()
    {
        var layer = new MaMA.Engine.Nn.LoraLinear(12, 9, WeightLayout.Conv1D, new Random(8), rank: 4, alpha: 8f, dropout: 0.1f);
        var x = Tensor.FromArray(Values(5 * 12, 2), [5, 12]);
        layer.Eval();
        float[] y = layer.Forward(x).ToFloatArray();
        float[] baseline = EngineOps.Add(EngineOps.MatMul(x, layer.Weight), layer.Bias!).ToFloatArray();
        Assert.That(RelativeError(y, baseline), Is.LessThan(1e-6), "B = 0: the adapter adds nothing yet");

        layer.Train();
        ulong before = layer.DropoutOffset;
        Tensor yt = layer.Forward(x);
        Assert.That(layer.DropoutOffset, Is.EqualTo(before + 1), "each training forward advances the dropout offset");
        EngineOps.Sum(EngineOps.Mul(yt, yt)).Backward();
        Assert.That(layer.Weight.Grad, Is.Null);
        Assert.That(layer.Bias!.Grad, Is.Null);
        Assert.That(layer.LoraA.Grad, Is.Not.Null);
        Assert.That(layer.LoraB.Grad, Is.Not.Null);
        Assert.That(layer.LoraB.Grad!.ToFloatArray().Any(v => v != 0f), "B learns first (A's gradient is zero while B = 0)");
        Assert.That(layer.LoraA.Grad!.ToFloatArray(), Is.All.EqualTo(0f));
    }

    [Test]
    public void ModuleMergeKeepsTheEvaluationOutput()
    {
        var layer = new MaMA.Engine.Nn.LoraLinear(20, 12, WeightLayout.Linear, new Random(6), rank: 4, alpha: 16f);
        layer.LoraB.CopyFrom(Tensor.FromArray(Values(12 * 4, 9), [12, 4]));
        layer.Eval();
        var x = Tensor.FromArray(Values(7 * 3 * 20, 10), [7, 3, 20]);
        float[] before = layer.Forward(x).ToFloatArray();
        float[] weight = layer.Weight.ToFloatArray();
        layer.Merge();
        Assert.That(layer.IsMerged);
        Assert.That(RelativeError(layer.Forward(x).ToFloatArray(), before), Is.LessThan(1e-5));
        layer.Unmerge();
        Assert.That(layer.IsMerged, Is.False);
        Assert.That(RelativeError(layer.Weight.ToFloatArray(), weight), Is.LessThan(1e-6), "unmerge undoes merge within fp32 rounding");
        Assert.That(RelativeError(layer.Forward(x).ToFloatArray(), before), Is.LessThan(1e-6));
    }
}
