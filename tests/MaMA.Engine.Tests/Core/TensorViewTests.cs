using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

/// <summary>Views share storage and only change shape, strides and offset.</summary>
[TestFixture]
public sealed class TensorViewTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    private static Tensor Range(int n, Device d, params int[] shape) =>
        Tensor.FromArray(Enumerable.Range(0, n).Select(i => (float)i).ToArray(), shape, d);

    [TestCaseSource(nameof(Devices))]
    public void TransposeIsAViewWithSwappedStrides(string device)
    {
        Tensor x = Range(6, Device.Parse(device), 2, 3);
        Tensor t = x.Transpose(0, 1);
        Assert.That(t.ShapeArray, Is.EqualTo(new[] { 3, 2 }));
        Assert.That(t.Strides.ToArray(), Is.EqualTo(new long[] { 1, 3 }));
        Assert.That(t.IsContiguous, Is.False);
        Assert.That(t.ToArray<float>(), Is.EqualTo(new float[] { 0, 3, 1, 4, 2, 5 }));
    }

    [TestCaseSource(nameof(Devices))]
    public void AnEmptyTensorIsContiguousInEveryLayout(string device)
    {
        // As in PyTorch: no element is out of place. A transposed [2, 0] once read as a strided view,
        // and copying it out failed with an internal error.
        Tensor x = Tensor.Zeros([2, 0], device: Device.Parse(device));
        Tensor t = x.Transpose(0, 1);
        Assert.That((x.IsContiguous, t.IsContiguous), Is.EqualTo((true, true)));
        Assert.That(t.ToFloatArray(), Is.Empty);
        Assert.That(t.Contiguous().ShapeArray, Is.EqualTo(new[] { 0, 2 }));
    }

    [TestCaseSource(nameof(Devices))]
    public void NarrowOffsetsIntoTheSameStorage(string device)
    {
        Tensor x = Range(12, Device.Parse(device), 3, 4);
        Tensor s = x.Narrow(1, 1, 2);
        Assert.That(s.Offset, Is.EqualTo(1));
        Assert.That(s.ToArray<float>(), Is.EqualTo(new float[] { 1, 2, 5, 6, 9, 10 }));
        Tensor rows = x.Narrow(0, 2, 1);
        Assert.That(rows.Offset, Is.EqualTo(8));
        Assert.That(rows.ToArray<float>(), Is.EqualTo(new float[] { 8, 9, 10, 11 }));
    }

    [TestCaseSource(nameof(Devices))]
    public void ReshapeOfContiguousSharesStorageAndOfStridedCopies(string device)
    {
        Tensor x = Range(24, Device.Parse(device), 2, 3, 4);
        Tensor r = x.Reshape(6, -1);
        Assert.That(r.ShapeArray, Is.EqualTo(new[] { 6, 4 }));
        Assert.That(ReferenceEquals(r.Storage, x.Storage), Is.True);
        Tensor p = x.Permute(2, 0, 1).Reshape(4, 6);
        Assert.That(ReferenceEquals(p.Storage, x.Storage), Is.False);
        Assert.That(p.ToArray<float>()[..6], Is.EqualTo(new float[] { 0, 4, 8, 12, 16, 20 }));
    }

    [TestCaseSource(nameof(Devices))]
    public void ExpandUsesZeroStrides(string device)
    {
        Tensor x = Range(3, Device.Parse(device), 3, 1);
        Tensor e = x.Expand(2, 3, 4);
        Assert.That(e.Strides.ToArray(), Is.EqualTo(new long[] { 0, 1, 0 }));
        float[] values = e.ToArray<float>();
        Assert.That(values, Has.Length.EqualTo(24));
        Assert.That(values[..8], Is.EqualTo(new float[] { 0, 0, 0, 0, 1, 1, 1, 1 }));
    }

    [Test]
    public void BadReshapeNamesBothShapes()
    {
        Tensor x = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentException>(() => x.Reshape(4, 2))!;
        Assert.That(e.Message, Does.Contain("6 elements").And.Contain("[4, 2]"));
    }

    [TestCaseSource(nameof(Devices))]
    public void Int64AndBoolRoundTrip(string device)
    {
        Device d = Device.Parse(device);
        long[] ids = [0, -5, long.MaxValue, 42];
        Assert.That(Tensor.FromArray(ids, [2, 2], d).Transpose(0, 1).ToArray<long>(), Is.EqualTo(new long[] { 0, long.MaxValue, -5, 42 }));
        bool[] mask = [true, false, true];
        Assert.That(Tensor.FromArray(mask, [3], d).ToArray<bool>(), Is.EqualTo(mask));
        Assert.That(Tensor.FromArray(mask, [3], d).To(DType.Float32).ToArray<float>(), Is.EqualTo(new float[] { 1, 0, 1 }));
        Assert.That(Tensor.FromArray(new[] { 7, -3 }, [2], d).To(DType.Int64).ToArray<long>(), Is.EqualTo(new long[] { 7, -3 }));
    }

    [TestCaseSource(nameof(Devices))]
    public void BFloat16RoundsToNearestEven(string device)
    {
        Device d = Device.Parse(device);
        // 1 + 2^-8 is exactly halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
        float[] x = [1f + 1f / 256, 1f + 3f / 256, -2.5f, float.PositiveInfinity];
        float[] y = Tensor.FromArray(x, [4], d).To(DType.BFloat16).ToFloatArray();
        Assert.That(y, Is.EqualTo(new[] { 1f, 1f + 1f / 64, -2.5f, float.PositiveInfinity }));
        float nan = Tensor.FromArray([float.NaN], [1], d).To(DType.BFloat16).ToFloatArray()[0];
        Assert.That(float.IsNaN(nan), Is.True);
    }

    [TestCaseSource(nameof(Devices))]
    public void Float16MatchesSystemHalf(string device)
    {
        Device d = Device.Parse(device);
        var rng = new Random(3);
        float[] x = Enumerable.Range(0, 257).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-26, 17)))).ToArray();
        float[] expected = x.Select(v => (float)(Half)v).ToArray();
        Assert.That(Tensor.FromArray(x, [257], d).To(DType.Float16).ToFloatArray(), Is.EqualTo(expected));
    }
}
