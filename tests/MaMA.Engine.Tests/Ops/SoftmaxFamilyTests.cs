using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Behaviours of softmax, cross-entropy, L2 normalisation and layer norm that parity with random
/// normal inputs cannot show: extreme logits, invalid targets, zero vectors, ignored rows and
/// argument checks. Each runs on the fast CPU backend and the ILGPU CPU simulator.
/// </summary>
[TestFixture("cpu")]
[TestFixture("ilgpu-cpu")]
public sealed class SoftmaxFamilyTests(string deviceName)
{
    private Device Device => Device.Parse(deviceName);

    [Test]
    public void SoftmaxOfHugeLogitsIsFiniteAndSumsToOne()
    {
        float[] logits = [3e38f, 3e38f, 1000f, -1000f, 1e30f, -1e30f, 1e29f, 0f, 88f, 89f, 1e4f, -1e4f];
        Tensor y = EngineOps.Softmax(Tensor.FromArray(logits, [3, 4], Device));
        float[] p = y.ToFloatArray();
        Assert.That(p.All(float.IsFinite), $"non-finite probabilities: {string.Join(", ", p)}");
        for (int r = 0; r < 3; r++)
            Assert.That(p.Skip(4 * r).Take(4).Sum(), Is.EqualTo(1f).Within(1e-6f), $"row {r} sums to 1");
        // Row 0 has two equal maxima of 3e38: each gets one half, the rest nothing.
        Assert.That(p[0], Is.EqualTo(0.5f).Within(1e-6f));
        Assert.That(p[3], Is.EqualTo(0f));

        float[] logp = EngineOps.LogSoftmax(Tensor.FromArray(logits, [3, 4], Device)).ToFloatArray();
        Assert.That(logp.All(float.IsFinite), $"non-finite log-probabilities: {string.Join(", ", logp)}");
        Assert.That(logp[0], Is.EqualTo(MathF.Log(0.5f)).Within(1e-6f));
    }

    [Test]
    public void SoftmaxAlongAnAxisNormalisesThatAxis()
    {
        var rng = new Random(5);
        float[] values = Enumerable.Range(0, 2 * 3 * 4).Select(_ => (float)(rng.NextDouble() * 10 - 5)).ToArray();
        float[] p = EngineOps.Softmax(Tensor.FromArray(values, [2, 3, 4], Device), 1).ToFloatArray();
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < 4; c++)
            {
                float sum = 0f;
                for (int b = 0; b < 3; b++) sum += p[(a * 3 + b) * 4 + c];
                Assert.That(sum, Is.EqualTo(1f).Within(1e-6f), $"column ({a}, :, {c})");
            }
    }

    [Test]
    public void CrossEntropyRejectsAnOutOfRangeTargetNamingIt()
    {
        Tensor logits = Tensor.Zeros([4, 5], DType.Float32, Device);
        var ex = Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(logits, Tensor.FromArray(new long[] { 0, 4, 7, 1 }, [4], Device)));
        Assert.That(ex!.Message, Does.Contain("target 7").And.Contain("index 2").And.Contain("5 classes"));

        ex = Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(logits, Tensor.FromArray(new[] { 0, 1, 2, -1 }, [4], Device)));
        Assert.That(ex!.Message, Does.Contain("target -1").And.Contain("index 3"));

        // -100 is only accepted when it is the ignore index.
        ex = Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(logits, Tensor.FromArray(new long[] { 0, -100, 2, 3 }, [4], Device)));
        Assert.That(ex!.Message, Does.Contain("target -100").And.Contain("index 1"));
    }

    [Test]
    public void CrossEntropyRejectsBadShapesAndDtypes()
    {
        Tensor logits = Tensor.Zeros([4, 5], DType.Float32, Device);
        Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(logits, Tensor.Zeros([4], DType.Float32, Device)));
        Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(logits, Tensor.Zeros([3], DType.Int64, Device)));
        Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(Tensor.Zeros([2, 2, 5], DType.Float32, Device), Tensor.Zeros([2], DType.Int64, Device)));
    }

    [Test]
    public void CrossEntropyIgnoresRowsAndAveragesOverTheRest()
    {
        float[] values = [2f, -1f, 0.5f, 9f, 9f, 9f, 0f, 3f, -2f];
        Tensor logits = Tensor.FromArray(values, [3, 3], Device);
        logits.RequiresGrad = true;
        Tensor loss = EngineOps.CrossEntropy(logits, Tensor.FromArray(new long[] { 2, -100, 1 }, [3], Device), ignoreIndex: -100);
        double expected = (Nll(values, 0, 2) + Nll(values, 2, 1)) / 2;
        Assert.That(loss.Item(), Is.EqualTo(expected).Within(1e-5));

        loss.Backward();
        float[] grad = logits.Grad!.ToFloatArray();
        Assert.That(grad.Skip(3).Take(3), Is.All.EqualTo(0f), "an ignored row gets no gradient");
        Assert.That(grad.Take(3).Sum(), Is.EqualTo(0f).Within(1e-6f), "softmax - onehot sums to zero");
        Assert.That(grad[2], Is.EqualTo((Softmax(values, 0)[2] - 1) / 2).Within(1e-6));

        static double Nll(float[] v, int row, int target)
        {
            double max = v.Skip(3 * row).Take(3).Max();
            double lse = max + Math.Log(v.Skip(3 * row).Take(3).Sum(x => Math.Exp(x - max)));
            return lse - v[3 * row + target];
        }

        static double[] Softmax(float[] v, int row)
        {
            double[] e = v.Skip(3 * row).Take(3).Select(x => Math.Exp(x)).ToArray();
            return e.Select(x => x / e.Sum()).ToArray();
        }
    }

    [Test]
    public void CrossEntropyOfHugeLogitsIsFinite()
    {
        Tensor logits = Tensor.FromArray(new[] { 1e30f, -1e30f, 0f, 30f, 30f, -30f }, [2, 3], Device);
        logits.RequiresGrad = true;
        Tensor loss = EngineOps.CrossEntropy(logits, Tensor.FromArray(new long[] { 0, 1 }, [2], Device));
        // Row 0 is certain (loss 0); row 1 splits between two equal maxima (loss log 2).
        Assert.That(loss.Item(), Is.EqualTo(MathF.Log(2f) / 2).Within(1e-5f));
        loss.Backward();
        Assert.That(logits.Grad!.ToFloatArray().All(float.IsFinite));
    }

    [Test]
    public void L2NormalizeOfAZeroRowGivesZerosNotNaN()
    {
        Tensor x = Tensor.FromArray(new[] { 0f, 0f, 0f, 3f, 0f, 4f }, [2, 3], Device);
        x.RequiresGrad = true;
        Tensor y = EngineOps.L2Normalize(x);
        Assert.That(y.ToFloatArray(), Is.EqualTo(new[] { 0f, 0f, 0f, 0.6f, 0f, 0.8f }).Within(1e-7f));
        y.Backward(Tensor.Ones([2, 3], Device));
        float[] g = x.Grad!.ToFloatArray();
        Assert.That(g.All(float.IsFinite), $"non-finite gradient: {string.Join(", ", g)}");
        // Zero row: the denominator is the constant eps, so dx = dy / eps.
        Assert.That(g[0], Is.EqualTo(1e12f).Within(1e12f * 1e-6f));
    }

    [Test]
    public void L2NormalizeGivesUnitRows()
    {
        var rng = new Random(3);
        float[] values = Enumerable.Range(0, 5 * 7).Select(_ => (float)(rng.NextDouble() * 200 - 100)).ToArray();
        float[] y = EngineOps.L2Normalize(Tensor.FromArray(values, [5, 7], Device)).ToFloatArray();
        for (int r = 0; r < 5; r++)
            Assert.That(Math.Sqrt(y.Skip(7 * r).Take(7).Sum(v => (double)v * v)), Is.EqualTo(1.0).Within(1e-6), $"row {r}");
    }

    [Test]
    public void LayerNormWithoutAffineGivesZeroMeanUnitVariance()
    {
        var rng = new Random(11);
        const int rows = 6, c = 768;
        float[] values = Enumerable.Range(0, rows * c).Select(_ => (float)(1000 + rng.NextDouble() * 10)).ToArray();
        float[] y = EngineOps.LayerNorm(Tensor.FromArray(values, [2, 3, c], Device), null, null, 1e-6f).ToFloatArray();
        for (int r = 0; r < rows; r++)
        {
            double mean = y.Skip(c * r).Take(c).Average(v => (double)v);
            double variance = y.Skip(c * r).Take(c).Average(v => (v - mean) * (v - mean));
            Assert.That(mean, Is.EqualTo(0).Within(1e-4), $"row {r} mean");
            Assert.That(variance, Is.EqualTo(1).Within(1e-3), $"row {r} variance");
        }
    }

    [Test]
    public void LayerNormOfAConstantRowIsTheBias()
    {
        Tensor x = Tensor.Full([2, 4], 7f, Device);
        Tensor weight = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, [4], Device);
        Tensor bias = Tensor.FromArray(new[] { 0.5f, -0.5f, 1f, 0f }, [4], Device);
        float[] y = EngineOps.LayerNorm(x, weight, bias, 1e-5f).ToFloatArray();
        Assert.That(y, Is.EqualTo(new[] { 0.5f, -0.5f, 1f, 0f, 0.5f, -0.5f, 1f, 0f }).Within(1e-6f));
    }

    [Test]
    public void LayerNormRejectsAMismatchedWeight()
    {
        Tensor x = Tensor.Zeros([3, 8], DType.Float32, Device);
        var ex = Assert.Throws<ArgumentException>(() => EngineOps.LayerNorm(x, Tensor.Ones([7], Device), null, 1e-5f));
        Assert.That(ex!.Message, Does.Contain("weight").And.Contain("[8]"));
        Assert.Throws<ArgumentException>(() => EngineOps.LayerNorm(x, null, Tensor.Ones([8, 1], Device), 1e-5f));
    }
}
