using System.Runtime.CompilerServices;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

/// <summary>
/// The graph keeps an activation alive only when some backward reads it (Edge, Node): each test
/// builds a small graph in a separate method, drops every reference the caller had to an
/// intermediate tensor, collects garbage, and checks through a weak reference whether the tape
/// still holds it; then backward must still give the right gradient.
/// </summary>
[TestFixture]
public sealed class SavedTensorsTests
{
    [Test]
    public void SumOfActivationsKeepsNeitherOperand()
    {
        // y = 2x + 2x: add reads no operand, affine reads no input.
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(x, 2f), (h, _) => Engine.Ops.Add(h, h));
        Assert.That(IsCollected(h), Is.True, "add and affine need no activations for their backward");
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 4f, 4f, 4f }));
    }

    [Test]
    public void ProductKeepsTheOtherOperandForEachGradient()
    {
        // y = h * w with both needing gradients: dh = dy w, dw = dy h, so h stays.
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(x, 2f), (h, w) => Engine.Ops.Mul(h, w));
        Assert.That(IsCollected(h), Is.False, "mul's gradient for w reads h");
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 2f, 4f, 6f }));
    }

    [Test]
    public void MatMulWithAFrozenWeightDoesNotKeepItsInput()
    {
        // y = h W^T with W frozen: dh = dy W needs W only.
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(Engine.Ops.Reshape(x, 1, 3), 2f),
            (h, _) => Engine.Ops.MatMul(h, Tensor.FromArray([1f, 0f, 0f, 0f, 1f, 1f], [2, 3]), transposeB: true));
        Assert.That(IsCollected(h), Is.True, "the frozen weight's gradient is not computed, so h is not saved");
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 2f, 2f, 2f }));
    }

    [Test]
    public void MatMulWithATrainedWeightKeepsItsInput()
    {
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(Engine.Ops.Reshape(x, 1, 3), 2f),
            (h, _) =>
            {
                Tensor w = Tensor.FromArray([1f, 0f, 0f, 0f, 1f, 1f], [2, 3]);
                w.RequiresGrad = true;
                return Engine.Ops.MatMul(h, w, transposeB: true);
            });
        Assert.That(IsCollected(h), Is.False, "dW = dy^T h reads h");
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 2f, 2f, 2f }));
    }

    [Test]
    public void CastUnderAutocastDoesNotKeepTheFp32Original()
    {
        // A bf16 matmul operand made by the recorded cast: the cast's backward needs only the dtype.
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(Engine.Ops.Reshape(x, 1, 3), 2f),
            (h, _) =>
            {
                Tensor w = Tensor.FromArray([1f, 0f, 0f, 0f, 1f, 1f], [2, 3]);
                using (Autograd.Autocast.Bf16()) return Engine.Ops.MatMul(h, w, transposeB: true);
            });
        Assert.That(IsCollected(h), Is.True, "only the bf16 copy could be saved, and a frozen weight needs not even that");
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 2f, 2f, 2f }));
    }

    /// <summary>x = [1, 2, 3] requiring grad, h = first(x), y = then(h, w) with w = [1, 2, 3] requiring grad; returns x, y and a weak reference to h.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Tensor X, Tensor Y, WeakReference H) Build(Func<Tensor, Tensor> first, Func<Tensor, Tensor, Tensor> then)
    {
        Tensor x = Tensor.FromArray([1f, 2f, 3f], [3]);
        x.RequiresGrad = true;
        Tensor w = Tensor.FromArray([1f, 2f, 3f], [3]);
        w.RequiresGrad = true;
        Tensor h = first(x);
        return (x, then(h, w), new WeakReference(h));
    }

    private static bool IsCollected(WeakReference h)
    {
        for (int i = 0; i < 3 && h.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return !h.IsAlive;
    }
}
