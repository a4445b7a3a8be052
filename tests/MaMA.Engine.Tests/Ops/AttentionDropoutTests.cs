using MaMA.Engine.Tensors;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Dropout on the probabilities inside <see cref="EngineOps.Attention"/> (<see cref="AttentionDropout"/>,
/// GPT-2's attn_dropout) against the same thing op by op on the CPU: softmax(scale q k^T + masks),
/// then <see cref="EngineOps.Dropout"/> with the same (p, seed, offset, element base) over
/// [B, H, T, T], then times v. Forward and all three gradients, on every attention path: the fast
/// CPU backend, the simulator's per-row kernels and GEMM form (fp32, within float rounding) and the
/// tensor-core kernels (bf16 on the simulator, D 64 and 128, against the reference on the same bf16
/// values within bf16's 2e-2). Shapes cover T not a multiple of 4 and element bases that are not
/// (masks whose Philox blocks straddle rows and fragment pairs), both multiples of 4 (the tensor
/// cores' lanes then share blocks by shuffles), causal and padded keys, joined heads.
/// </summary>
[TestFixture]
[NonParallelizable] // switches process-wide attention forms
public sealed class AttentionDropoutTests
{
    private static Device Sim => Device.Parse("ilgpu-cpu");

    [TearDown]
    public void Restore()
    {
        EngineOps.AttentionForward = GemmForm.Auto;
        EngineOps.AttentionBackward = GemmForm.Auto;
        EngineOps.AttentionForwardChunkElements = 32L << 20;
        EngineOps.AttentionBackwardChunkElements = 32L << 20;
    }

    private sealed record Case(int B, int H, int T, int D, bool Causal, bool Padded, bool Join, float P, long Base);

    // fp32 paths: T 13 (rows start mid-block), element bases 0 and 6.
    private static readonly Case Fp32Causal = new(2, 3, 13, 16, Causal: true, Padded: true, Join: false, P: 0.2f, Base: 6);
    private static readonly Case Fp32Joined = new(2, 2, 24, 8, Causal: false, Padded: true, Join: true, P: 0.35f, Base: 0);

    [TestCase("cpu", false)]
    [TestCase("cpu", true)]
    [TestCase("rows", false)]
    [TestCase("rows", true)]
    [TestCase("gemm", false)]
    [TestCase("gemm", true)]
    public void Fp32FusedDropoutEqualsSoftmaxDropoutTimesV(string path, bool joined)
    {
        Case c = joined ? Fp32Joined : Fp32Causal;
        Device device = path == "cpu" ? Device.Cpu : Sim;
        if (path == "rows")
        {
            EngineOps.AttentionForward = GemmForm.Kernels;
            EngineOps.AttentionBackward = GemmForm.Kernels;
        }
        else if (path == "gemm")
        {
            // Two heads per chunk: chunks after the first start inside the probabilities.
            EngineOps.AttentionForward = GemmForm.Gemm;
            EngineOps.AttentionBackward = GemmForm.Gemm;
            EngineOps.AttentionForwardChunkElements = EngineOps.AttentionBackwardChunkElements = 2L * c.T * c.T;
        }
        Check(c, device, bf16: false, budget: 2e-6);
    }

    // T and base multiples of 4: lanes share Philox blocks by shuffles; otherwise each lane draws its own.
    [TestCase(64, 37, true, true, false, 5L)]
    [TestCase(64, 72, false, false, true, 8L)]
    [TestCase(128, 22, true, false, true, 3L)]
    [TestCase(128, 40, true, true, false, 0L)]
    // Full tiles (no mask, a whole 64-key and 64-query tile below T): the kernels' unmasked loops, at D = 128 with per-lane draws.
    [TestCase(128, 68, false, false, false, 2L)]
    public void TensorCoreFusedDropoutEqualsSoftmaxDropoutTimesV(int d, int t, bool causal, bool padded, bool join, long elementBase)
    {
        var c = new Case(2, 1, t, d, causal, padded, join, P: 0.25f, Base: elementBase);
        Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.BFloat16, DType.BFloat16, DType.BFloat16, d), Is.True);
        Check(c, Sim, bf16: true, budget: 2e-2);
    }

    [Test]
    public void ProbabilityAndBaseAreChecked()
    {
        Tensor q = Tensor.FromArray(Floats(2 * 4 * 8, 1), [1, 2, 4, 8]);
        Assert.That(() => EngineOps.Attention(q, q, q, null, false, 0.5f, dropout: new AttentionDropout(1f, 1, 0)),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("[0, 1)"));
        Assert.That(() => EngineOps.Attention(q, q, q, null, false, 0.5f, dropout: new AttentionDropout(0.1f, 1, 0, -4)),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("base"));
        Assert.That(() => EngineOps.Attention(q, q, q, null, false, 0.5f, dropout: new AttentionDropout(0.1f, 1, 0, 1L << 34)),
            Throws.ArgumentException.With.Message.Contains("Philox"));
    }

    /// <summary>Fused on <paramref name="device"/> against the op-by-op CPU reference, and unlike the undropped attention.</summary>
    private static void Check(Case c, Device device, bool bf16, double budget)
    {
        var dropout = new AttentionDropout(c.P, Seed: 0xC0FFEE_1234UL, Offset: 7, ElementBase: c.Base);
        Inputs inputs = MakeInputs(c, bf16);
        (float[] fused, float[][] fusedGrads) = Fused(c, inputs, device, bf16, dropout);
        (float[] reference, float[][] referenceGrads) = Reference(c, inputs, dropout);
        (float[] plain, _) = Reference(c, inputs, AttentionDropout.None);
        string[] names = ["dq", "dk", "dv"];
        double err = RelativeError(fused, Doubles(reference));
        TestContext.Out.WriteLine($"{c} on {device} ({(bf16 ? "bf16" : "fp32")}): out {err:E2}, "
            + string.Join(", ", names.Select((n, i) => $"{n} {RelativeError(fusedGrads[i], Doubles(referenceGrads[i])):E2}")));
        Assert.That(err, Is.LessThan(budget), "output");
        for (int i = 0; i < 3; i++) Assert.That(RelativeError(fusedGrads[i], Doubles(referenceGrads[i])), Is.LessThan(budget), names[i]);
        Assert.That(RelativeError(plain, Doubles(reference)), Is.GreaterThan(20 * budget), "the dropout changed the output");
    }

    private sealed record Inputs(float[] Q, float[] K, float[] V, float[] Upstream, float[]? Keep);

    /// <summary>q, k, v (rounded to bf16 for the tensor-core cases, so both sides read the same values), the upstream gradient and the key mask.</summary>
    private static Inputs MakeInputs(Case c, bool bf16)
    {
        int n = c.B * c.H * c.T * c.D;
        float[] Round(float[] x) => bf16 ? Tensor.FromArray(x, [x.Length]).To(DType.BFloat16).To(DType.Float32).ToFloatArray() : x;
        float[]? keep = null;
        if (c.Padded)
        {
            // Batch 1 pads its last third (every query still sees key 0).
            keep = new float[c.B * c.T];
            for (int b = 0; b < c.B; b++)
                for (int j = 0; j < c.T; j++) keep[b * c.T + j] = b == 1 && j >= c.T - c.T / 3 ? 0f : 1f;
        }
        return new Inputs(Round(Floats(n, 21, 2)), Round(Floats(n, 22, 2)), Round(Floats(n, 23)), Floats(n, 24), keep);
    }

    private static int[] OutShape(Case c) => c.Join ? [c.B, c.T, c.H * c.D] : [c.B, c.H, c.T, c.D];

    private static (float[] Output, float[][] Grads) Fused(Case c, Inputs x, Device device, bool bf16, AttentionDropout dropout)
    {
        int[] shape = [c.B, c.H, c.T, c.D];
        Tensor Leaf(float[] data)
        {
            Tensor t = Tensor.FromArray(data, shape, device);
            if (bf16) t = t.To(DType.BFloat16);
            t.RequiresGrad = true;
            return t;
        }
        Tensor q = Leaf(x.Q), k = Leaf(x.K), v = Leaf(x.V);
        Tensor? mask = x.Keep is null ? null : Tensor.FromArray(x.Keep, [c.B, c.T], device);
        Tensor o = EngineOps.Attention(q, k, v, mask, c.Causal, Scale(c), c.Join, dropout);
        Tensor g = Tensor.FromArray(x.Upstream, OutShape(c), device);
        o.Backward(bf16 && c.Join ? g.To(DType.BFloat16) : g);
        return (o.To(DType.Float32).ToFloatArray(),
            [q.Grad!.To(DType.Float32).ToFloatArray(), k.Grad!.To(DType.Float32).ToFloatArray(), v.Grad!.To(DType.Float32).ToFloatArray()]);
    }

    /// <summary>HF's eager attention on the CPU in fp32: scores, -inf where a key is not visible, softmax, Ops.Dropout, times v.</summary>
    private static (float[] Output, float[][] Grads) Reference(Case c, Inputs x, AttentionDropout dropout)
    {
        int[] shape = [c.B, c.H, c.T, c.D];
        Tensor Leaf(float[] data)
        {
            Tensor t = Tensor.FromArray(data, shape);
            t.RequiresGrad = true;
            return t;
        }
        Tensor q = Leaf(x.Q), k = Leaf(x.K), v = Leaf(x.V);
        var additive = new float[c.B * c.H * c.T * c.T];
        for (int b = 0; b < c.B; b++)
            for (int h = 0; h < c.H; h++)
                for (int i = 0; i < c.T; i++)
                    for (int j = 0; j < c.T; j++)
                        if ((c.Causal && j > i) || (x.Keep is not null && x.Keep[b * c.T + j] == 0f))
                            additive[((b * c.H + h) * c.T + i) * c.T + j] = float.NegativeInfinity;
        Tensor scores = EngineOps.Add(EngineOps.Scale(EngineOps.MatMul(q, k, transposeB: true), Scale(c)), Tensor.FromArray(additive, [c.B, c.H, c.T, c.T]));
        Tensor probabilities = EngineOps.Softmax(scores, -1);
        Tensor dropped = EngineOps.Dropout(probabilities, dropout.P, dropout.Seed, dropout.Offset, training: dropout.Active, dropout.ElementBase);
        Tensor o = EngineOps.MatMul(dropped, v);
        if (c.Join) o = EngineOps.Reshape(EngineOps.Contiguous(EngineOps.Transpose(o, 1, 2)), c.B, c.T, c.H * c.D);
        o.Backward(Tensor.FromArray(x.Upstream, OutShape(c)));
        return (o.ToFloatArray(), [q.Grad!.ToFloatArray(), k.Grad!.ToFloatArray(), v.Grad!.ToFloatArray()]);
    }

    private static float Scale(Case c) => 1f / MathF.Sqrt(c.D) / (c.Causal ? 3f : 1f);

    private static double[] Doubles(float[] x) => x.Select(v => (double)v).ToArray();
}
