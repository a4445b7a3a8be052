using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>Embedding id validation and the deterministic (atomic-free) weight gradient.</summary>
[TestFixture]
public sealed class EmbeddingTests
{
    [TestCase(-1L)]
    [TestCase(7L)]
    [TestCase(long.MaxValue)]
    public void OutOfRangeIdsThrowNamingTheId(long bad)
    {
        var weight = Tensor.Zeros([7, 4]);
        var ids = Tensor.FromArray(new long[] { 0, 3, bad, 6 }, [2, 2]);
        var e = Assert.Throws<ArgumentException>(() => EngineOps.Embedding(weight, ids));
        Assert.That(e!.Message, Does.Contain(bad.ToString()).And.Contain("[0, 7)"));
    }

    [Test]
    public void RejectsNonIntegerIds()
    {
        Assert.Throws<ArgumentException>(() => EngineOps.Embedding(Tensor.Zeros([7, 4]), Tensor.Zeros([3])));
    }

    [Test]
    public void WeightGradientIsBitwiseEqualAcrossDevicesAndRuns()
    {
        var rng = new Random(5);
        const int v = 6, c = 37, tokens = 500;
        float[] w = Enumerable.Range(0, v * c).Select(_ => (float)rng.NextDouble()).ToArray();
        long[] ids = Enumerable.Range(0, tokens).Select(_ => (long)rng.Next(v - 1)).ToArray(); // id v-1 never occurs
        float[] dy = Enumerable.Range(0, tokens * c).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();

        float[] Grad(string deviceName)
        {
            Device device = Device.Parse(deviceName);
            var weight = Tensor.FromArray(w, [v, c], device);
            weight.RequiresGrad = true;
            Tensor y = EngineOps.Embedding(weight, Tensor.FromArray(ids, [tokens], device));
            y.Backward(Tensor.FromArray(dy, [tokens, c], device));
            return weight.Grad!.ToFloatArray();
        }

        float[] cpu = Grad("cpu");
        Assert.That(Grad("cpu"), Is.EqualTo(cpu), "two cpu runs differ");
        Assert.That(Grad("ilgpu-cpu"), Is.EqualTo(cpu), "cpu and ilgpu-cpu differ");
        Assert.That(cpu.Skip((v - 1) * c), Is.All.EqualTo(0f), "an unused row must get a zero gradient");

        // Reference: sequential sum in token order, in double then rounded.
        for (int ch = 0; ch < c; ch += 9)
        {
            double expected = 0;
            for (int t = 0; t < tokens; t++) if (ids[t] == 2) expected += dy[t * c + ch];
            Assert.That(cpu[2 * c + ch], Is.EqualTo(expected).Within(1e-4));
        }
    }
}
