using MaMA.Engine.Devices;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Nn;

/// <summary>
/// LoRA dropout does not depend on how a batch is split over data-parallel ranks: the rows a rank
/// computes inside <see cref="DropoutRows.Scope"/> draw the masks they have in the whole batch, on
/// the fast CPU backend and on the accelerator kernels (ILGPU simulator).
/// </summary>
[TestFixture]
public sealed class DropoutRowsTests
{
    private const int Samples = 6, Tokens = 3, In = 16, Out = 8;

    /// <summary>LoraLinear 16 -> 8, dropout 0.5, as every rank builds it from the same seed; B non-zero so the mask shows.</summary>
    private static LoraLinear Layer(Device device)
    {
        var layer = new LoraLinear(In, Out, WeightLayout.Conv1D, new Random(3), rank: 4, alpha: 8, dropout: 0.5f, device: device);
        layer.LoraB.CopyFrom(Tensor.FromArray(Enumerable.Range(0, Out * 4).Select(i => 0.1f * (i % 7 - 3)).ToArray(), [Out, 4]));
        layer.DropoutSeed = 12345;
        layer.Train();
        return layer;
    }

    /// <summary>Samples [first, first + count) of a fixed [6, 3, 16] batch.</summary>
    private static Tensor Batch(Device device, int first, int count)
    {
        float[] all = Enumerable.Range(0, Samples * Tokens * In).Select(i => MathF.Sin(0.37f * i) + 0.5f).ToArray();
        return Tensor.FromArray(all.AsSpan(first * Tokens * In, count * Tokens * In).ToArray(), [count, Tokens, In], device);
    }

    /// <summary>Output, dx and dA of the layer on samples [first, first + count), with the rows scope when <paramref name="scoped"/>.</summary>
    private static (float[] Y, float[] Dx, float[] DA) Run(Device device, int first, int count, bool scoped)
    {
        LoraLinear layer = Layer(device);
        Tensor x = Batch(device, first, count);
        x.RequiresGrad = true;
        using (scoped ? DropoutRows.Scope(first, count) : null)
        {
            Tensor y = layer.Forward(x);
            Engine.Ops.Sum(Engine.Ops.Mul(y, y)).Backward();
            return (y.ToArray<float>(), x.Grad!.ToArray<float>(), layer.LoraA.Grad!.ToArray<float>());
        }
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void TwoRanksDrawTheMasksOfTheWholeBatch(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        (float[] y, float[] dx, float[] da) = Run(device, 0, Samples, scoped: false);
        (float[] y0, float[] dx0, float[] da0) = Run(device, 0, Samples / 2, scoped: true);
        (float[] y1, float[] dx1, float[] da1) = Run(device, Samples / 2, Samples / 2, scoped: true);
        int half = Samples / 2 * Tokens;
        Assert.That(y0.Concat(y1).ToArray(), Is.EqualTo(y).Within(1e-6f), "each rank's rows are those rows of the whole batch");
        Assert.That(dx0.Concat(dx1).ToArray(), Is.EqualTo(dx).Within(1e-5f));
        float[] summed = da0.Zip(da1, (p, q) => p + q).ToArray();
        for (int i = 0; i < da.Length; i++)
            Assert.That(summed[i], Is.EqualTo(da[i]).Within(1e-4f * Math.Max(1f, Math.Abs(da[i]))), $"dA[{i}]: the ranks' sum is the whole batch's");

        // Without the scope rank 1 would draw rank 0's masks on its rows: the outputs differ.
        (float[] unscoped, _, _) = Run(device, Samples / 2, Samples / 2, scoped: false);
        int differing = unscoped.Zip(y1).Count(p => p.First != p.Second);
        Assert.That(differing, Is.GreaterThan(half * Out / 2), "the scope is what makes rank 1's masks right");
    }

    [Test]
    public void OutsideAScopeTheBaseIsZeroAndAnUnevenSplitIsRefused()
    {
        Tensor x = Tensor.Zeros([4, 3, 2], DType.Float32);
        Assert.That(DropoutRows.ElementBase(x), Is.EqualTo(0));
        using (DropoutRows.Scope(8, 4)) Assert.That(DropoutRows.ElementBase(x), Is.EqualTo(8 * 3 * 2));
        using (DropoutRows.Scope(3, 5)) Assert.Throws<InvalidOperationException>(() => DropoutRows.ElementBase(x));
        Assert.That(DropoutRows.ElementBase(x), Is.EqualTo(0), "scopes restore what was before");
    }
}
