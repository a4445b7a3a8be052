using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// Flash attention behaviours that parity with libtorch cannot show: rows that see no key (output
/// 0, no NaN), causal attention against an explicit masked softmax, mask dtypes, memory (no T x T
/// buffer) and argument checks. Each runs on the fast CPU backend and the ILGPU CPU simulator.
/// </summary>
[TestFixture("cpu")]
[TestFixture("ilgpu-cpu")]
public sealed class AttentionTests(string deviceName)
{
    private Device Device => Device.Parse(deviceName);

    [Test]
    public void RowsThatSeeNoKeyGiveZerosAndZeroGradients()
    {
        const int b = 2, h = 2, t = 9, d = 16;
        // Batch 0: keys 0 and 1 padded, so causal rows 0 and 1 see nothing; batch 1: every key padded.
        float[] keep = new float[b * t];
        for (int j = 2; j < t; j++) keep[j] = 1f;
        foreach (bool causal in new[] { false, true })
        {
            (Tensor q, Tensor k, Tensor v) = Inputs(b, h, t, d, seed: 3);
            Tensor y = EngineOps.Attention(q, k, v, Tensor.FromArray(keep, [b, t], Device), causal, 0.25f);
            float[] o = y.ToFloatArray();
            Assert.That(o.All(float.IsFinite), $"causal={causal}: the output holds NaN or inf");
            for (int head = 0; head < h; head++)
                for (int i = 0; i < t; i++)
                {
                    bool empty = causal && i < 2;
                    float rowAbs = Row(o, 0, head, i, h, t, d).Sum(MathF.Abs);
                    Assert.That(rowAbs, empty ? Is.EqualTo(0f) : Is.GreaterThan(0f), $"causal={causal} batch 0 head {head} row {i}");
                    Assert.That(Row(o, 1, head, i, h, t, d).All(x => x == 0f), $"causal={causal} batch 1 (all keys padded) head {head} row {i} is not 0");
                }

            y.Backward(Tensor.Full([b, h, t, d], 1f, Device));
            float[] dq = q.Grad!.ToFloatArray(), dk = k.Grad!.ToFloatArray(), dv = v.Grad!.ToFloatArray();
            Assert.That(dq.Concat(dk).Concat(dv).All(float.IsFinite), $"causal={causal}: a gradient holds NaN or inf");
            for (int head = 0; head < h; head++)
                for (int i = 0; i < t; i++)
                {
                    Assert.That(Row(dq, 1, head, i, h, t, d).All(x => x == 0f), $"causal={causal}: dq of an empty row");
                    Assert.That(Row(dk, 1, head, i, h, t, d).Concat(Row(dv, 1, head, i, h, t, d)).All(x => x == 0f), $"causal={causal}: dk/dv of a padded key");
                    if (i < 2)
                        Assert.That(Row(dk, 0, head, i, h, t, d).Concat(Row(dv, 0, head, i, h, t, d)).All(x => x == 0f), $"causal={causal}: dk/dv of padded key {i}");
                    if (causal && i < 2)
                        Assert.That(Row(dq, 0, head, i, h, t, d).All(x => x == 0f), $"dq of causal row {i} that sees no key");
                }
        }
    }

    [TestCase(37)]
    [TestCase(130)]
    public void CausalEqualsAnExplicitlyMaskedSoftmax(int t)
    {
        const int b = 2, h = 2, d = 24;
        float scale = 0.2f / 3f;
        (Tensor q1, Tensor k1, Tensor v1) = Inputs(b, h, t, d, seed: 11);
        (Tensor q2, Tensor k2, Tensor v2) = Inputs(b, h, t, d, seed: 11);
        Tensor flash = EngineOps.Attention(q1, k1, v1, null, causal: true, scale);
        float[] bias = new float[t * t];
        for (int i = 0; i < t; i++)
            for (int j = i + 1; j < t; j++) bias[i * t + j] = -1e30f;
        Tensor reference = Explicit(q2, k2, v2, Tensor.FromArray(bias, [t, t], Device), scale);
        AssertClose(flash.ToFloatArray(), reference.ToFloatArray(), "output");

        float[] upstream = Normal(b * h * t * d, seed: 12);
        flash.Backward(Tensor.FromArray(upstream, [b, h, t, d], Device));
        reference.Backward(Tensor.FromArray(upstream, [b, h, t, d], Device));
        AssertClose(q1.Grad!.ToFloatArray(), q2.Grad!.ToFloatArray(), "dq");
        AssertClose(k1.Grad!.ToFloatArray(), k2.Grad!.ToFloatArray(), "dk");
        AssertClose(v1.Grad!.ToFloatArray(), v2.Grad!.ToFloatArray(), "dv");
    }

    [Test]
    public void BoolIntAndFloatMasksAgree()
    {
        const int b = 2, h = 1, t = 11, d = 16;
        (Tensor q, Tensor k, Tensor v) = Inputs(b, h, t, d, seed: 5);
        bool[] keep = Enumerable.Range(0, b * t).Select(i => i % t < (i < t ? 11 : 6)).ToArray();
        float[] viaFloat = EngineOps.Attention(q, k, v, Tensor.FromArray(keep.Select(x => x ? 1f : 0f).ToArray(), [b, t], Device), true, 0.25f).ToFloatArray();
        float[] viaBool = EngineOps.Attention(q, k, v, Tensor.FromArray(keep, [b, t], Device), true, 0.25f).ToFloatArray();
        float[] viaLong = EngineOps.Attention(q, k, v, Tensor.FromArray(keep.Select(x => x ? 1L : 0L).ToArray(), [b, t], Device), true, 0.25f).ToFloatArray();
        Assert.That(viaBool, Is.EqualTo(viaFloat));
        Assert.That(viaLong, Is.EqualTo(viaFloat));
    }

    [Test]
    public void Bf16InputsGiveFp32OutputAndBf16Gradients()
    {
        const int b = 1, h = 2, t = 13, d = 16;
        (Tensor q, Tensor k, Tensor v) = Inputs(b, h, t, d, seed: 8);
        Tensor qb = q.Detach().To(DType.BFloat16), kb = k.Detach().To(DType.BFloat16), vb = v.Detach().To(DType.BFloat16);
        qb.RequiresGrad = true;
        Tensor y = EngineOps.Attention(qb, kb, vb, null, false, 0.25f);
        Assert.That(y.DType, Is.EqualTo(DType.Float32));
        float[] widened = EngineOps.Attention(qb.Detach().To(DType.Float32), kb.To(DType.Float32), vb.To(DType.Float32), null, false, 0.25f).ToFloatArray();
        Assert.That(y.ToFloatArray(), Is.EqualTo(widened), "bf16 storage computes exactly as its fp32 widening");
        y.Backward(Tensor.Full([b, h, t, d], 1f, Device));
        Assert.That(qb.Grad!.DType, Is.EqualTo(DType.BFloat16));
    }

    [Test]
    public void NoTxTBufferIsAllocated()
    {
        // T = 1374 (the ViT sequence) on the fast CPU backend: one head's T x T fp32 scores would be
        // 7.5 MB. The simulator runs the one-row-per-thread kernels, so it gets a shorter sequence.
        int t = deviceName == "cpu" ? 1374 : 700;
        const int b = 1, h = 2, d = 16;
        long oneHeadScores = 4L * t * t;
        (Tensor q, Tensor k, Tensor v) = Inputs(b, h, t, d, seed: 1);
        Tensor upstream = Tensor.Full([b, h, t, d], 1f, Device);
        long before = Device.AllocatedBytes;
        Device.ResetPeakAllocatedBytes();
        Tensor y = EngineOps.Attention(q, k, v, null, causal: false, 0.125f);
        y.Backward(upstream);
        long peak = Device.PeakAllocatedBytes - before;
        TestContext.Out.WriteLine($"{deviceName}: peak {peak / 1024.0:F0} KiB over the inputs; all heads' T x T scores would be {h * oneHeadScores / 1024.0:F0} KiB");
        Assert.That(peak, Is.LessThan(oneHeadScores / 2), "attention allocated something of the order of T x T");
        Assert.That(q.Grad!.ToFloatArray().All(float.IsFinite));
    }

    [Test]
    public void BadArgumentsAreNamed()
    {
        Tensor q = Tensor.Zeros([1, 2, 5, 8], DType.Float32, Device);
        Tensor k3 = Tensor.Zeros([1, 2, 5], DType.Float32, Device);
        Assert.That(Assert.Throws<ArgumentException>(() => EngineOps.Attention(q, q, k3, null, false, 1f))!.Message, Does.Contain("v has shape"));
        Assert.That(Assert.Throws<ArgumentException>(() => EngineOps.Attention(k3, k3, k3, null, false, 1f))!.Message, Does.Contain("[B, H, T, D]"));
        Tensor badMask = Tensor.Ones([1, 4], Device);
        Assert.That(Assert.Throws<ArgumentException>(() => EngineOps.Attention(q, q, q, badMask, false, 1f))!.Message, Does.Contain("keyPaddingMask"));
        Assert.Throws<ArgumentOutOfRangeException>(() => EngineOps.Attention(q, q, q, null, false, float.NaN));
    }

    /// <summary>softmax(q k^T scale + bias) v with engine base ops (materialises T x T on purpose).</summary>
    private static Tensor Explicit(Tensor q, Tensor k, Tensor v, Tensor bias, float scale)
    {
        int b = q.Size(0), h = q.Size(1), t = q.Size(2), d = q.Size(3);
        Tensor q3 = EngineOps.Reshape(q, b * h, t, d), k3 = EngineOps.Reshape(k, b * h, t, d), v3 = EngineOps.Reshape(v, b * h, t, d);
        Tensor scores = EngineOps.Add(EngineOps.Scale(EngineOps.MatMul(q3, k3, transposeB: true), scale), bias);
        return EngineOps.Reshape(EngineOps.MatMul(EngineOps.Softmax(scores), v3), b, h, t, d);
    }

    private (Tensor Q, Tensor K, Tensor V) Inputs(int b, int h, int t, int d, int seed)
    {
        int n = b * h * t * d;
        Tensor Make(int s)
        {
            Tensor x = Tensor.FromArray(Normal(n, s), [b, h, t, d], Device);
            x.RequiresGrad = true;
            return x;
        }
        return (Make(seed), Make(seed + 100), Make(seed + 200));
    }

    private static float[] Normal(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => OpData.Normal(rng)).ToArray();
    }

    private static IEnumerable<float> Row(float[] x, int batch, int head, int row, int h, int t, int d) =>
        x.Skip(((batch * h + head) * t + row) * d).Take(d);

    private static void AssertClose(float[] actual, float[] expected, string what)
    {
        double error = OpResult.RelativeError(actual, expected);
        Assert.That(error, Is.LessThan(1e-5), $"{what}: relative error {error:E2}");
    }
}
