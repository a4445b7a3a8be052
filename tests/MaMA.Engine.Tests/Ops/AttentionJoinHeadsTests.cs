using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.TensorCore;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Attention with the heads joined by the kernels (<see cref="EngineOps.Attention"/>, joinHeads):
/// [B, T, H D] against <c>Attention(...).Transpose(1, 2).Reshape(B, T, H D)</c>. Where the output is
/// fp32 (fp32 inputs: the CPU kernel writing joined rows, the simulator's fp32 kernels through one
/// permuted copy, the tensor cores' fp32 opt-in storing joined rows) values and gradients are the
/// same bit for bit. Under bf16 autocast the output is bf16 and equals the permuted output rounded
/// to bf16 bit for bit (CPU, and the tensor-core kernel rounding in its store); the gradients then
/// differ only by the backward's rowsum(dO * O) reading the bf16 O.
/// </summary>
[TestFixture]
[NonParallelizable] // switches the process-wide tensor-core opt-in
public sealed class AttentionJoinHeadsTests
{
    private const int B = 2, H = 3, T = 37;

    private static (float[], int[])[] Inputs(int d, int seed) =>
        [(Floats(B * H * T * d, seed, 2), [B, H, T, d]), (Floats(B * H * T * d, seed + 1, 2), [B, H, T, d]), (Floats(B * H * T * d, seed + 2), [B, H, T, d])];

    private static (float[], int[]) Weights(int d, int seed) => (Floats(B * T * H * d, seed + 3), [B, T, H * d]);

    private static float[] KeepMask()
    {
        var keep = new float[B * T];
        for (int j = 0; j < T; j++) keep[j] = j % 5 == 3 ? 0f : 1f;
        for (int j = 0; j < 29; j++) keep[T + j] = 1f;
        return keep;
    }

    private static (FusionHarness.Result Joined, FusionHarness.Result Permuted) RunBoth(Device device, bool autocast, int d, bool causal, bool masked, int seed)
    {
        float scale = 1f / MathF.Sqrt(d);
        using Tensor? mask = masked ? Tensor.FromArray(KeepMask(), [B, T], device) : null;
        var inputs = Inputs(d, seed);
        var weights = Weights(d, seed);
        FusionHarness.Result joined = FusionHarness.Run(device, autocast, inputs, 3, 1.5f, weights,
            x => EngineOps.Attention(x[0], x[1], x[2], mask, causal, scale, joinHeads: true));
        FusionHarness.Result permuted = FusionHarness.Run(device, autocast, inputs, 3, 1.5f, weights,
            x => EngineOps.Attention(x[0], x[1], x[2], mask, causal, scale).Transpose(1, 2).Reshape(B, T, H * d));
        return (joined, permuted);
    }

    // D = 20 is not a whole number of SIMD vectors (the CPU kernel's padded-row path) and not a
    // tensor-core head size (the simulator's fp32 flash kernels); 64 is the ViT's.
    [TestCase("cpu", 20, true, true)]
    [TestCase("cpu", 64, false, false)]
    [TestCase("ilgpu-cpu", 20, true, true)]
    [TestCase("ilgpu-cpu", 64, false, false)]
    public void Fp32_EqualsThePermutedOutputBitForBit(string deviceName, int d, bool causal, bool masked)
    {
        var (joined, permuted) = RunBoth(Device.Parse(deviceName), autocast: false, d, causal, masked, seed: 40 + d);
        Assert.That(joined.DType, Is.EqualTo(DType.Float32));
        Assert.That(joined.Output, Is.EqualTo(permuted.Output), "output");
        for (int i = 0; i < 3; i++) Assert.That(joined.Grads[i], Is.EqualTo(permuted.Grads[i]), $"gradient {i} (q, k, v)");
        Assert.That(joined.Grads[0].Select(MathF.Abs).Max(), Is.GreaterThan(1e-3f), "dq is not trivially zero");
    }

    /// <summary>The tensor-core forward's fp32 store into joined rows (fp32 inputs inside the bf16 opt-in), and its backward on the fp32 kernels.</summary>
    [Test]
    public void TensorCoreFp32OptIn_EqualsThePermutedOutputBitForBit()
    {
        Device sim = Device.Parse("ilgpu-cpu");
        FusionHarness.Result joined, permuted;
        using (TensorCoreMath.AllowBf16())
        {
            Assert.That(EngineOps.UsesTensorCoreAttention(sim, DType.Float32, DType.Float32, DType.Float32, 64), Is.True);
            (joined, permuted) = RunBoth(sim, autocast: false, 64, causal: true, masked: true, seed: 70);
        }
        Assert.That(joined.DType, Is.EqualTo(DType.Float32));
        Assert.That(joined.Output, Is.EqualTo(permuted.Output), "output");
        for (int i = 0; i < 3; i++) Assert.That(joined.Grads[i], Is.EqualTo(permuted.Grads[i]), $"gradient {i} (q, k, v)");
    }

    // cpu: the CPU kernel writes fp32 joined rows, then one cast. ilgpu-cpu with D = 64: the
    // tensor-core forward rounds in its store and the tensor-core backward reads dO's joined rows.
    [TestCase("cpu", 64, false, false)]
    [TestCase("cpu", 20, true, true)]
    [TestCase("ilgpu-cpu", 64, false, false)]
    [TestCase("ilgpu-cpu", 64, true, true)]
    public void Autocast_GivesTheRoundedPermutedOutput_AndCloseGradients(string deviceName, int d, bool causal, bool masked)
    {
        Device device = Device.Parse(deviceName);
        long launches = TensorCoreAttentionBackward.Launches;
        var (joined, permuted) = RunBoth(device, autocast: true, d, causal, masked, seed: 90 + d);
        bool tensorCores = !device.IsCpu && d == 64;
        if (tensorCores) Assert.That(TensorCoreAttentionBackward.Launches, Is.EqualTo(launches + 2), "both backwards ran on the tensor cores");

        Assert.That(joined.DType, Is.EqualTo(DType.BFloat16), "the projection's operand, in bf16");
        Assert.That(permuted.DType, Is.EqualTo(DType.Float32));
        Assert.That(joined.Output, Is.EqualTo(permuted.Output.Select(Bf16.Round).ToArray()), "the fp32 output rounded to nearest even");
        for (int i = 0; i < 3; i++)
        {
            double err = RelativeError(joined.Grads[i], permuted.Grads[i].Select(x => (double)x).ToArray());
            TestContext.Out.WriteLine($"{deviceName} D {d}: gradient {i} relative difference {err:E2}");
            // Only delta = rowsum(dO * O) moves (bf16 O instead of fp32): well under bf16's own 2e-2.
            Assert.That(err, Is.LessThan(1e-2), $"gradient {i} (q, k, v)");
        }
    }

    /// <summary>One head: the joined layout is the [B, H, T, D] one, and the simulator's backward still gets its own fp32 copies.</summary>
    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void OneHead_EqualsThePermutedOutputBitForBit(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        const int b = 2, t = 11, d = 20;
        int[] shape = [b, 1, t, d];
        (float[], int[])[] inputs = [(Floats(b * t * d, 3, 2), shape), (Floats(b * t * d, 4, 2), shape), (Floats(b * t * d, 5), shape)];
        (float[], int[]) weights = (Floats(b * t * d, 6), [b, t, d]);
        FusionHarness.Result joined = FusionHarness.Run(device, false, inputs, 3, 1.5f, weights,
            x => EngineOps.Attention(x[0], x[1], x[2], null, true, 0.3f, joinHeads: true));
        FusionHarness.Result permuted = FusionHarness.Run(device, false, inputs, 3, 1.5f, weights,
            x => EngineOps.Attention(x[0], x[1], x[2], null, true, 0.3f).Transpose(1, 2).Reshape(b, t, d));
        Assert.That(joined.Output, Is.EqualTo(permuted.Output), "output");
        for (int i = 0; i < 3; i++) Assert.That(joined.Grads[i], Is.EqualTo(permuted.Grads[i]), $"gradient {i} (q, k, v)");
    }

    [Test]
    public void ShapeAndDType_FollowTheInputs()
    {
        float[] x = Floats(1 * 2 * 5 * 8, 5);
        Tensor q = Tensor.FromArray(x, [1, 2, 5, 8]);
        Tensor joined = EngineOps.Attention(q, q, q, null, false, 0.5f, joinHeads: true);
        Assert.That(joined.Shape.ToArray(), Is.EqualTo(new[] { 1, 5, 16 }));
        Assert.That(joined.DType, Is.EqualTo(DType.Float32));
        Tensor q16 = q.To(DType.BFloat16);
        Assert.That(EngineOps.Attention(q16, q16, q16, null, false, 0.5f, joinHeads: true).DType, Is.EqualTo(DType.BFloat16),
            "16-bit inputs give a 16-bit joined output, as PyTorch's SDPA");
        Assert.That(EngineOps.Attention(q16, q16, q16, null, false, 0.5f).DType, Is.EqualTo(DType.Float32),
            "the [B, H, T, D] output stays fp32");
    }
}
