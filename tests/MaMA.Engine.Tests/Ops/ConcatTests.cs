using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Ops.Concat against a host reference: every axis, odd sizes, strided (transposed, expanded,
/// narrowed) inputs, dtypes kept or widened, and gradients as narrow views of the output gradient,
/// on the fast CPU backend and the ILGPU simulator. Concatenation only moves values, so results
/// are compared exactly.
/// </summary>
[TestFixture]
public sealed class ConcatTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    [Test]
    public void EveryAxisOddSizesMatchesReferenceAndGradients([ValueSource(nameof(Devices))] string deviceName, [Values(0, 1, 2, -1)] int axis)
    {
        Device device = Device.Parse(deviceName);
        int[] baseShape = [3, 5, 7];
        int a = axis < 0 ? axis + baseShape.Length : axis;
        int[] sizes = [1, 4, 3];
        var rng = new Random(11 + a);
        var hostInputs = new List<float[]>();
        var shapes = new List<int[]>();
        var inputs = new List<Tensor>();
        foreach (int s in sizes)
        {
            int[] shape = (int[])baseShape.Clone();
            shape[a] = s;
            float[] data = Random(rng, (int)Shape.Numel(shape));
            var t = Tensor.FromArray(data, shape, device);
            t.RequiresGrad = true;
            hostInputs.Add(data);
            shapes.Add(shape);
            inputs.Add(t);
        }

        Tensor y = EngineOps.Concat(inputs, axis);
        int[] outShape = (int[])baseShape.Clone();
        outShape[a] = sizes.Sum();
        Assert.That(y.ShapeArray, Is.EqualTo(outShape));
        float[] expected = ReferenceConcat(hostInputs, shapes, a);
        Assert.That(y.ToFloatArray(), Is.EqualTo(expected));

        // Gradient of sum(y * w): each input gets its slice of w.
        float[] w = Random(rng, expected.Length);
        Tensor loss = EngineOps.Sum(EngineOps.Mul(y, Tensor.FromArray(w, outShape, device)));
        loss.Backward();
        int start = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            float[] want = Slice(w, outShape, a, start, sizes[i]);
            Assert.That(inputs[i].Grad, Is.Not.Null, $"input {i} has no gradient");
            Assert.That(inputs[i].Grad!.ShapeArray, Is.EqualTo(shapes[i]));
            Assert.That(inputs[i].Grad!.ToFloatArray(), Is.EqualTo(want), $"gradient of input {i}");
            start += sizes[i];
        }
    }

    [Test]
    public void StridedInputsAreCopiedWithoutMaterialising([ValueSource(nameof(Devices))] string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var rng = new Random(3);
        // A [1, 1, 33] token expanded to [5, 1, 33], a transposed [5, 2, 33] view and a narrowed [5, 9, 33] view.
        float[] cls = Random(rng, 33);
        float[] regT = Random(rng, 2 * 5 * 33);     // stored [2, 5, 33]
        float[] big = Random(rng, 5 * 12 * 33);     // stored [5, 12, 33], rows 3..11 used
        Tensor clsT = Tensor.FromArray(cls, [1, 1, 33], device).Expand(5, 1, 33);
        Tensor reg = Tensor.FromArray(regT, [2, 5, 33], device).Transpose(0, 1);
        Tensor patches = Tensor.FromArray(big, [5, 12, 33], device).Narrow(1, 3, 9);

        Tensor y = EngineOps.Concat([clsT, reg, patches], 1);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 5, 12, 33 }));
        float[] got = y.ToFloatArray();
        for (int b = 0; b < 5; b++)
            for (int t = 0; t < 12; t++)
                for (int c = 0; c < 33; c++)
                {
                    float want = t == 0 ? cls[c] : t < 3 ? regT[((t - 1) * 5 + b) * 33 + c] : big[(b * 12 + t) * 33 + c];
                    Assert.That(got[(b * 12 + t) * 33 + c], Is.EqualTo(want), $"[{b}, {t}, {c}]");
                }
    }

    [Test]
    public void ExpandedInputGradientIsSummedOverTheBroadcast([ValueSource(nameof(Devices))] string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var token = Tensor.FromArray(new float[] { 1, 2, 3 }, [1, 1, 3], device);
        token.RequiresGrad = true;
        var rest = Tensor.FromArray(Enumerable.Range(0, 4 * 2 * 3).Select(i => (float)i).ToArray(), [4, 2, 3], device);
        rest.RequiresGrad = true;
        Tensor y = EngineOps.Concat([token.Expand(4, 1, 3), rest], 1); // [4, 3, 3]
        float[] w = Enumerable.Range(0, 4 * 3 * 3).Select(i => 0.5f * i).ToArray();
        EngineOps.Sum(EngineOps.Mul(y, Tensor.FromArray(w, [4, 3, 3], device))).Backward();
        // d token[c] = sum_b w[b, 0, c]
        float[] want = Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, 4).Sum(b => w[b * 9 + c])).ToArray();
        Assert.That(token.Grad!.ToFloatArray(), Is.EqualTo(want));
        Assert.That(rest.Grad!.ToFloatArray(), Is.EqualTo(Enumerable.Range(0, 4).SelectMany(b => w.Skip(b * 9 + 3).Take(6)).ToArray()));
    }

    [Test]
    public void KeepsSharedDtypeAndWidensMixedOnes([ValueSource(nameof(Devices))] string deviceName)
    {
        Device device = Device.Parse(deviceName);
        float[] a = [1.5f, -2f, 3.25f], b = [0.5f, 8f];
        Tensor a16 = Tensor.FromArray(a, [3], device).To(DType.BFloat16);
        Tensor b16 = Tensor.FromArray(b, [2], device).To(DType.BFloat16);
        Tensor same = EngineOps.Concat([a16, b16], 0);
        Assert.That(same.DType, Is.EqualTo(DType.BFloat16));
        Assert.That(same.ToFloatArray(), Is.EqualTo(a.Concat(b).ToArray()));

        var a32 = Tensor.FromArray(a, [3], device);
        a32.RequiresGrad = true;
        b16.RequiresGrad = true;
        Tensor mixed = EngineOps.Concat([a32, b16], 0);
        Assert.That(mixed.DType, Is.EqualTo(DType.Float32));
        Assert.That(mixed.ToFloatArray(), Is.EqualTo(a.Concat(b).ToArray()));
        EngineOps.Sum(EngineOps.Mul(mixed, Tensor.FromArray(new float[] { 1, 2, 3, 4, 5 }, [5], device))).Backward();
        Assert.That(a32.Grad!.ToFloatArray(), Is.EqualTo(new float[] { 1, 2, 3 }));
        Assert.That(b16.Grad!.ToFloatArray(), Is.EqualTo(new float[] { 4, 5 }));

        // Integer tensors are concatenated as they are (8-byte elements).
        Tensor ids = EngineOps.Concat([Tensor.FromArray(new long[] { 7, long.MaxValue }, [2], device), Tensor.FromArray(new long[] { -1 }, [1], device)], 0);
        Assert.That(ids.ToArray<long>(), Is.EqualTo(new long[] { 7, long.MaxValue, -1 }));
    }

    [Test]
    public void EmptyInputsAndOnlyOneInputRequiringGrad([ValueSource(nameof(Devices))] string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [2, 2], device);
        x.RequiresGrad = true;
        Tensor empty = Tensor.Zeros([2, 0], device: device);
        var constant = Tensor.FromArray(new float[] { 9, 9 }, [2, 1], device);
        Tensor y = EngineOps.Concat([empty, x, constant], 1);
        Assert.That(y.ToFloatArray(), Is.EqualTo(new float[] { 1, 2, 9, 3, 4, 9 }));
        EngineOps.Sum(y).Backward();
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new float[] { 1, 1, 1, 1 }));
        Assert.That(constant.Grad, Is.Null);
    }

    [Test]
    public void MismatchedShapesNameTheTensor()
    {
        var e = Assert.Throws<ArgumentException>(() => EngineOps.Concat([Tensor.Zeros([2, 3]), Tensor.Zeros([3, 3])], 1));
        Assert.That(e!.Message, Does.Contain("tensor 1").And.Contain("[3, 3]"));
        Assert.Throws<ArgumentException>(() => EngineOps.Concat([], 0));
        Assert.Throws<ArgumentException>(() => EngineOps.Concat([Tensor.Zeros([2]), Tensor.Zeros([2, 1])], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => EngineOps.Concat([Tensor.Zeros([2])], 3));
    }

    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    /// <summary>Row-major concatenation on the host: outer blocks, then each input's slab.</summary>
    private static float[] ReferenceConcat(List<float[]> data, List<int[]> shapes, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shapes[0][d];
        for (int d = axis + 1; d < shapes[0].Length; d++) inner *= shapes[0][d];
        var result = new List<float>();
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < data.Count; i++)
            {
                int slab = shapes[i][axis] * inner;
                result.AddRange(data[i].Skip(o * slab).Take(slab));
            }
        return result.ToArray();
    }

    /// <summary>x[..., start:start+length, ...] of row-major <paramref name="x"/> along <paramref name="axis"/>.</summary>
    private static float[] Slice(float[] x, int[] shape, int axis, int start, int length)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        var result = new List<float>();
        for (int o = 0; o < outer; o++)
            result.AddRange(x.Skip((o * shape[axis] + start) * inner).Take(length * inner));
        return result.ToArray();
    }
}
