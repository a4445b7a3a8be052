using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

[TestFixture]
public sealed class AutogradTests
{
    [Test]
    public void SharedSubexpressionGradientsAreSummed()
    {
        // y = sum(x * x + 3x) -> dy/dx = 2x + 3.
        Tensor x = Tensor.FromArray([1f, -2f, 0.5f], [3]);
        x.RequiresGrad = true;
        Tensor y = Engine.Ops.Sum(Engine.Ops.Add(Engine.Ops.Mul(x, x), Engine.Ops.Scale(x, 3f)));
        y.Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 5f, -1f, 4f }));
    }

    [Test]
    public void RepeatedBackwardAccumulatesIntoLeaves()
    {
        Tensor w = Tensor.FromArray([2f, 3f], [2]);
        w.RequiresGrad = true;
        for (int i = 0; i < 3; i++) Engine.Ops.Sum(Engine.Ops.Scale(w, 2f)).Backward();
        Assert.That(w.Grad!.ToArray<float>(), Is.EqualTo(new[] { 6f, 6f }));
    }

    [Test]
    public void NoGradScopeRecordsNothing()
    {
        Tensor x = Tensor.FromArray([1f, 2f], [2]);
        x.RequiresGrad = true;
        Tensor y;
        using (GradMode.NoGrad())
        {
            y = Engine.Ops.Mul(x, x);
            Assert.That(GradMode.IsEnabled, Is.False);
        }
        Assert.That(GradMode.IsEnabled, Is.True);
        Assert.That(y.RequiresGrad, Is.False);
        Assert.That(y.GradFn, Is.Null);
    }

    [Test]
    public void BackwardOfNonScalarNeedsAGradient()
    {
        Tensor x = Tensor.FromArray([1f, 2f], [2]);
        x.RequiresGrad = true;
        var e = Assert.Throws<InvalidOperationException>(() => Engine.Ops.Scale(x, 2f).Backward())!;
        Assert.That(e.Message, Does.Contain("scalar"));
        Engine.Ops.Scale(x, 2f).Backward(Tensor.FromArray([1f, 10f], [2]));
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 2f, 20f }));
    }

    [Test]
    public void DetachCutsTheGraph()
    {
        Tensor x = Tensor.FromArray([3f], [1]);
        x.RequiresGrad = true;
        Tensor y = Engine.Ops.Add(Engine.Ops.Mul(x, x.Detach()), x);
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 4f }), "d/dx (x * const(x) + x) = x + 1");
    }

    [Test]
    public void GradientsFlowThroughBFloat16Casts()
    {
        Tensor x = Tensor.FromArray([1.5f, -0.25f], [2]);
        x.RequiresGrad = true;
        Engine.Ops.Sum(Engine.Ops.Scale(x.To(DType.BFloat16), 4f)).Backward();
        Assert.That(x.Grad!.DType, Is.EqualTo(DType.Float32));
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(new[] { 4f, 4f }));
    }
}
