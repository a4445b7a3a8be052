using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// <see cref="EngineOps.MatMul"/> over batch axes that include unit axes: such an axis's stride says
/// nothing about the layout (a transposed [B, 1, T, D] view carries T D where a contiguous one has
/// T D too only by chance), so merging the batch axes must look at the axes of size &gt; 1 alone.
/// Each case multiplies a permuted view and its contiguous copy and compares the products and both
/// gradients. The first case gave wrong gradients before the fix (GPT-2 attention with one head,
/// op by op: the joined heads' gradient reaches p v as such a view); the second merged two axes
/// that a unit axis separated and are not contiguous over each other.
/// </summary>
[TestFixture]
public sealed class MatMulBatchAxesTests
{
    // (shape of the contiguous source, permutation giving a [..., m, k] view with a unit batch axis)
    private static readonly object[] Cases =
    [
        new object[] { "last batch axis of size 1 (transposed [B, T, 1, D])", new[] { 2, 3, 1, 4 }, new[] { 0, 2, 1, 3 } },
        new object[] { "axes apart across a unit axis, not mergeable", new[] { 3, 1, 2, 4, 5 }, new[] { 2, 1, 0, 3, 4 } },
    ];

    [TestCaseSource(nameof(Cases))]
    public void PermutedViewEqualsItsContiguousCopy(string what, int[] source, int[] permutation)
    {
        foreach (string device in new[] { "cpu", "ilgpu-cpu" })
        {
            (float[] viewOut, float[] viewGradA, float[] viewGradB) = Run(Device.Parse(device), source, permutation, contiguous: false);
            (float[] copyOut, float[] copyGradA, float[] copyGradB) = Run(Device.Parse(device), source, permutation, contiguous: true);
            Assert.That(OpResult.RelativeError(viewOut, copyOut), Is.LessThan(1e-6), $"{what} on {device}: product");
            Assert.That(OpResult.RelativeError(viewGradA, copyGradA), Is.LessThan(1e-6), $"{what} on {device}: gradient of the view");
            Assert.That(OpResult.RelativeError(viewGradB, copyGradB), Is.LessThan(1e-6), $"{what} on {device}: gradient of the other operand");
        }
    }

    private static (float[] Out, float[] GradA, float[] GradB) Run(Device device, int[] source, int[] permutation, bool contiguous)
    {
        var rng = new Random(3);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Tensor.FromArray(Values(source.Aggregate(1, (p, s) => p * s)), source, device);
        x.RequiresGrad = true;
        Tensor a = EngineOps.Permute(x, permutation);
        if (contiguous) a = EngineOps.Contiguous(EngineOps.Scale(a, 1f)); // a fresh contiguous tensor, same values
        int[] bShape = [.. a.Shape[..^2], a.Shape[^1], 5]; // [batch..., k, n]
        var b = Tensor.FromArray(Values(bShape.Aggregate(1, (p, s) => p * s)), bShape, device);
        b.RequiresGrad = true;
        Tensor y = EngineOps.MatMul(a, b);
        float[] upstream = Values((int)y.Numel);
        y.Backward(Tensor.FromArray(upstream, y.Shape, device));
        return (y.ToFloatArray(), x.Grad!.ToFloatArray(), b.Grad!.ToFloatArray());
    }
}
