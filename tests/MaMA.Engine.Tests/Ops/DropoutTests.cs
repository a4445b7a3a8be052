using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Dropout cannot match torch bit for bit (different generators), so these check its contract:
/// device-independent masks from (seed, offset), the keep rate, backward through the regenerated
/// mask, and identity in evaluation.
/// </summary>
[TestFixture]
public sealed class DropoutTests
{
    private static float[] RandomValues(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Test]
    public void SameSeedAndOffsetGiveTheSameMaskOnEveryDevice()
    {
        const int n = 4099; // not a multiple of 4: the last Philox block is partial
        float[] ones = Enumerable.Repeat(1f, n).ToArray();
        float[] cpu = EngineOps.Dropout(Tensor.FromArray(ones, [n]), 0.3f, 1234567890123UL, 42, training: true).ToFloatArray();
        float[] sim = EngineOps.Dropout(Tensor.FromArray(ones, [n], Device.Parse("ilgpu-cpu")), 0.3f, 1234567890123UL, 42, training: true).ToFloatArray();
        Assert.That(sim, Is.EqualTo(cpu), "cpu and ilgpu-cpu masks differ");
        Assert.That(cpu.Distinct().Order(), Is.EqualTo(new[] { 0f, 1f / 0.7f }), "values are 0 or 1/(1-p)");

        float[] again = EngineOps.Dropout(Tensor.FromArray(ones, [n]), 0.3f, 1234567890123UL, 42, training: true).ToFloatArray();
        Assert.That(again, Is.EqualTo(cpu), "same (seed, offset) must repeat the mask");
        float[] otherOffset = EngineOps.Dropout(Tensor.FromArray(ones, [n]), 0.3f, 1234567890123UL, 43, training: true).ToFloatArray();
        float[] otherSeed = EngineOps.Dropout(Tensor.FromArray(ones, [n]), 0.3f, 1234567890124UL, 42, training: true).ToFloatArray();
        Assert.That(otherOffset, Is.Not.EqualTo(cpu), "another offset must give another mask");
        Assert.That(otherSeed, Is.Not.EqualTo(cpu), "another seed must give another mask");
    }

    /// <summary>
    /// With an element base, a slice draws the mask it has inside the whole tensor, for bases that do
    /// and do not start a Philox block (base % 4 = 0..3), forward and backward, on both devices; it is
    /// also the mask LoRA's input dropout draws for those elements.
    /// </summary>
    [TestCase("cpu", 8)]
    [TestCase("cpu", 1)]
    [TestCase("cpu", 6)]
    [TestCase("ilgpu-cpu", 7)]
    [TestCase("ilgpu-cpu", 12)]
    public void AnElementBaseDrawsTheMaskOfThoseElementsInTheWhole(string deviceName, int first)
    {
        Device device = Device.Parse(deviceName);
        const int n = 1031, count = 517;
        float[] x = RandomValues(n, 5);
        float[] whole = EngineOps.Dropout(Tensor.FromArray(x, [n], device), 0.3f, 99, 4, training: true).ToFloatArray();
        var slice = new Parameter(Tensor.FromArray(x.AsSpan(first, count).ToArray(), [count], device), "slice");
        Tensor y = EngineOps.Dropout(slice, 0.3f, 99, 4, training: true, elementBase: first);
        Assert.That(y.ToFloatArray(), Is.EqualTo(whole.AsSpan(first, count).ToArray()));
        EngineOps.Sum(y).Backward();
        float[] keptScale = slice.Grad!.ToFloatArray();
        for (int i = 0; i < count; i++)
            Assert.That(keptScale[i], Is.EqualTo(whole[first + i] == 0f && x[first + i] != 0f ? 0f : 1f / 0.7f).Within(1e-6f), $"gradient of element {i}");
        var lora = new MaMA.Kernels.Cpu.PhiloxDropout(0.3f, 99, 4, first);
        float[] factors = new float[count];
        unsafe
        {
            fixed (float* f = factors) lora.Fill(0, count, f);
        }
        for (int i = 0; i < count; i++)
            Assert.That(factors[i] == 0f, Is.EqualTo(whole[first + i] == 0f), $"LoRA's mask at element {i}");
    }

    [TestCase(0.1f)]
    [TestCase(0.5f)]
    [TestCase(0.9f)]
    public void KeepsAboutOneMinusPOfTheElements(float p)
    {
        const int n = 100_000;
        float[] y = EngineOps.Dropout(Tensor.Ones([n]), p, 7, 0, training: true).ToFloatArray();
        int kept = y.Count(v => v != 0f);
        double expected = n * (1.0 - p);
        double sigma = Math.Sqrt(n * p * (1.0 - p));
        Assert.That(Math.Abs(kept - expected), Is.LessThan(4 * sigma), $"kept {kept} of {n}, expected {expected:F0} +- {sigma:F0}");
        Assert.That(y.Where(v => v != 0f).Distinct(), Is.EqualTo(new[] { 1f / (1f - p) }));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void BackwardIsMaskTimesScaleTimesUpstream(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        const int n = 1001;
        const float p = 0.25f;
        var x = Tensor.FromArray(RandomValues(n, 1), [7, 11, 13], device);
        x.RequiresGrad = true;
        float[] dyValues = RandomValues(n, 2);
        Tensor y = EngineOps.Dropout(x, p, 99, 5, training: true);
        y.Backward(Tensor.FromArray(dyValues, [7, 11, 13], device));

        float[] maskScale = EngineOps.Dropout(Tensor.Ones([7, 11, 13], device), p, 99, 5, training: true).ToFloatArray();
        float[] expected = maskScale.Zip(dyValues, (m, g) => m * g).ToArray();
        Assert.That(x.Grad, Is.Not.Null);
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(expected));
        float[] xs = x.ToFloatArray();
        Assert.That(y.ToFloatArray(), Is.EqualTo(maskScale.Zip(xs, (m, v) => m * v).ToArray()), "forward is mask * scale * x");
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void EvaluationModeIsTheIdentity(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        float[] values = RandomValues(300, 3);
        var x = Tensor.FromArray(values, [3, 100], device);
        x.RequiresGrad = true;
        Tensor y = EngineOps.Dropout(x, 0.5f, 1, 2, training: false);
        Assert.That(y.ToFloatArray(), Is.EqualTo(values));
        EngineOps.Sum(y).Backward();
        Assert.That(x.Grad!.ToFloatArray(), Is.All.EqualTo(1f));
    }

    [Test]
    public void RejectsProbabilitiesOutsideTheUnitInterval()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EngineOps.Dropout(Tensor.Ones([4]), 1.5f, 0, 0, training: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => EngineOps.Dropout(Tensor.Ones([4]), -0.1f, 0, 0, training: true));
        Assert.That(EngineOps.Dropout(Tensor.Ones([4]), 1f, 0, 0, training: true).ToFloatArray(), Is.All.EqualTo(0f));
    }
}
