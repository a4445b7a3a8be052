using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

/// <summary>GradHooks.OnLeafGradientFinal: once per parameter per backward, after its last accumulation.</summary>
[TestFixture]
public sealed class GradHookTests
{
    private sealed class Recorder
    {
        public readonly List<(Parameter P, Tensor? Grad, float[] Values)> Calls = [];

        public void On(Parameter p) => Calls.Add((p, p.Grad, p.Grad!.ToFloatArray()));

        public string[] Names => Calls.Select(c => c.P.Name!).ToArray();

        public void AssertFinal()
        {
            foreach ((Parameter p, Tensor? grad, float[] values) in Calls)
            {
                Assert.That(grad, Is.SameAs(p.Grad), $"{p.Name}: Grad replaced after the hook");
                Assert.That(values, Is.EqualTo(p.Grad!.ToFloatArray()), p.Name);
            }
        }
    }

    private static Parameter P(string name, params float[] v) => new(Tensor.FromArray(v, [v.Length]), name);

    [Test]
    public void Fires_once_per_parameter_with_a_gradient_in_reverse_topological_order_and_not_for_frozen_ones()
    {
        Parameter a = P("a", 1, 2), b = P("b", 3, 4), c = P("c", 5, 6), f = P("f", 7, 8), unused = P("unused", 1, 1);
        f.Freeze();
        Tensor x = Tensor.FromArray(new float[] { 0.5f, -1 }, [2]);
        Tensor input = Tensor.FromArray(new float[] { 2, 3 }, [2]);
        input.RequiresGrad = true; // a leaf that is not a parameter: no call
        var rec = new Recorder();
        using (GradHooks.OnLeafGradientFinal(rec.On))
        {
            Tensor y = Engine.Ops.Mul(Engine.Ops.Mul(Engine.Ops.Mul(a, x), b), f);      // a, then b, then f consumed
            Tensor loss = Engine.Ops.Add(Engine.Ops.Add(Engine.Ops.Sum(y), Engine.Ops.Sum(c)), Engine.Ops.Sum(input));
            loss.Backward();
        }
        Assert.That(rec.Names, Is.EqualTo(new[] { "c", "b", "a" }));
        rec.AssertFinal();
        Assert.That(f.Grad, Is.Null);
        Assert.That(unused.Grad, Is.Null);
        Assert.That(a.Grad!.ToFloatArray(), Is.EqualTo(new float[] { 0.5f * 3 * 7, -1 * 4 * 8 }));
    }

    [Test]
    public void A_shared_parameter_fires_only_after_both_branches()
    {
        Parameter w = P("w", 1, 2), late = P("late", 3, 4);
        Tensor x1 = Tensor.FromArray(new float[] { 1, 10 }, [2]);
        Tensor x2 = Tensor.FromArray(new float[] { 100, 1000 }, [2]);
        var rec = new Recorder();
        int lateAt = -1;
        using (GradHooks.OnLeafGradientFinal(p => { if (p == late) lateAt = rec.Calls.Count; rec.On(p); }))
        {
            Tensor u = Engine.Ops.Mul(w, x1);                 // branch 1: early use of w
            Tensor v = Engine.Ops.Mul(Engine.Ops.Mul(w, x2), late);  // branch 2: later use of w, then late
            Engine.Ops.Add(Engine.Ops.Sum(u), Engine.Ops.Sum(v)).Backward();
        }
        Assert.That(rec.Names, Is.EqualTo(new[] { "late", "w" }));
        Assert.That(lateAt, Is.EqualTo(0));
        Assert.That(rec.Calls[1].Values, Is.EqualTo(new float[] { 1 + 100 * 3, 10 + 1000 * 4 }), "w's gradient from both branches");
        rec.AssertFinal();
    }

    [Test]
    public void Each_backward_fires_again_with_the_accumulated_gradient_and_nothing_fires_without_a_registration()
    {
        Parameter a = P("a", 1, 2);
        Tensor x = Tensor.FromArray(new float[] { 3, 4 }, [2]);
        var rec = new Recorder();
        Engine.Ops.Sum(Engine.Ops.Mul(a, x)).Backward(); // no hook
        using (GradHooks.OnLeafGradientFinal(rec.On))
        {
            Engine.Ops.Sum(Engine.Ops.Mul(a, x)).Backward();
            Engine.Ops.Sum(Engine.Ops.Mul(a, x)).Backward();
        }
        Engine.Ops.Sum(Engine.Ops.Mul(a, x)).Backward(); // disposed
        Assert.That(rec.Calls, Has.Count.EqualTo(2));
        Assert.That(rec.Calls[0].Values, Is.EqualTo(new float[] { 6, 8 }));
        Assert.That(rec.Calls[1].Values, Is.EqualTo(new float[] { 9, 12 }));
        Assert.That(a.Grad!.ToFloatArray(), Is.EqualTo(new float[] { 12, 16 }));
    }

    [Test]
    public void A_parameter_that_is_the_root_fires()
    {
        Parameter s = P("s", 2);
        var rec = new Recorder();
        using (GradHooks.OnLeafGradientFinal(rec.On)) s.Backward();
        Assert.That(rec.Names, Is.EqualTo(new[] { "s" }));
        rec.AssertFinal();
    }

    [Test]
    public void Parameters_of_a_recomputed_block_run_twice_fire_once_with_the_sum_of_both_uses()
    {
        var block = new Linear(3, 2, new Random(1));
        Parameter head = P("head", 1, -1);
        Tensor x1 = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        Tensor x2 = Tensor.FromArray(new float[] { -1, 0, 2, 1, 1, 1 }, [2, 3]);
        var rec = new Recorder();
        using (GradHooks.OnLeafGradientFinal(rec.On))
        {
            Tensor y1 = ActivationCheckpoint.Run(block, block.Forward, x1);
            Tensor y2 = ActivationCheckpoint.Run(block, block.Forward, x2);
            Engine.Ops.Sum(Engine.Ops.Mul(Engine.Ops.Add(y1, y2), head)).Backward();
        }
        Assert.That(rec.Calls.Select(c => c.P), Is.EquivalentTo(new Tensor[] { head, block.Weight, block.Parameters().Last() }));
        Assert.That(rec.Calls[0].P, Is.SameAs(head));
        rec.AssertFinal();

        // Same gradients as without recomputation.
        var plain = new Linear(3, 2, new Random(1));
        Engine.Ops.Sum(Engine.Ops.Mul(Engine.Ops.Add(plain.Forward(x1), plain.Forward(x2)), head)).Backward();
        Assert.That(block.Weight.Grad!.ToFloatArray(), Is.EqualTo(plain.Weight.Grad!.ToFloatArray()));
    }
}
