using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

/// <summary><see cref="Tensor.CountNonFinite"/>: the in-place fp32 path on the CPU and the copying path elsewhere count the same NaN and infinities.</summary>
[TestFixture]
public sealed class NonFiniteCountTests
{
    /// <summary>1,000 values (several SIMD vectors and a tail) with NaN, +inf and -inf at the edges and inside.</summary>
    private static float[] Values()
    {
        var v = Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i) * 1e30f).ToArray();
        v[0] = float.NaN;
        v[517] = float.PositiveInfinity;
        v[998] = float.NegativeInfinity;
        v[999] = float.NaN;
        return v;
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void CountsNaNAndInfinities(string device)
    {
        Device d = Device.Parse(device);
        Assert.That(Tensor.FromArray(Values(), [10, 100], d).CountNonFinite(), Is.EqualTo(4));
        Assert.That(Tensor.FromArray(Enumerable.Range(0, 1000).Select(i => (float)i).ToArray(), [1000], d).CountNonFinite(), Is.Zero, "all finite");
        Assert.That(Tensor.FromArray(new float[0], [0], d).CountNonFinite(), Is.Zero, "empty");
    }

    [Test]
    public void ViewsOtherDTypesAndIntegers()
    {
        Tensor t = Tensor.FromArray(Values(), [10, 100]);
        Assert.That(t.Narrow(1, 1, 98).CountNonFinite(), Is.EqualTo(2), "a strided view: of the four, +inf at (5, 17) and -inf at (9, 98) are inside columns 1 .. 98");
        Assert.That(t.Narrow(0, 1, 9).CountNonFinite(), Is.EqualTo(3), "a contiguous view from row 1: its offset is honoured");
        Assert.That(t.To(DType.BFloat16).CountNonFinite(), Is.EqualTo(4), "bf16 keeps NaN and infinities");
        Assert.That(Tensor.FromArray(new long[] { 1, 2, 3 }, [3]).CountNonFinite(), Is.Zero, "integers are always finite");
    }
}
