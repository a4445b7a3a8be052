using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.Heads;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Heads;

/// <summary>
/// The heads against torch.nn with the same weights: outputs in training and evaluation mode, the
/// running statistics after training steps, num_batches_tracked, and the gradients of the input and
/// of every parameter. fp32, tolerance 1e-5 relative (1e-4 for running variances).
/// </summary>
[TestFixture]
public sealed class HeadParityTests
{
    private const double Tol = 1e-5;

    [TestCase(new[] { 6, 5 }, true)]
    [TestCase(new[] { 3, 5, 7 }, true)]
    [TestCase(new[] { 4, 9 }, false)]
    public void BatchNormMatchesTorchTrainingEvalAndGradients(int[] shape, bool affine)
    {
        using var scope = NewDisposeScope();
        int c = shape[1];
        var bn = new BatchNorm1d(c, affine);
        var tbn = TorchSharp.torch.nn.BatchNorm1d(c, affine: affine);
        if (affine)
        {
            bn.Weight!.CopyFrom(Compare.Uniform([c], 1, 0.5f, 1.5f));
            bn.Bias!.CopyFrom(Compare.Uniform([c], 2, -0.5f, 0.5f));
        }
        TorchState.Load(tbn, bn.StateDict());
        for (int step = 0; step < 3; step++)
        {
            EngineTensor x = Compare.Uniform(shape, 10 + step, -2f + step, 3f + step);
            x.RequiresGrad = true;
            TorchTensor tx = Compare.Torch(x, requiresGrad: true);
            EngineTensor y = bn.Forward(x);
            TorchTensor ty = tbn.forward(tx);
            Compare.Close(y, ty, Tol, $"output, step {step}");
            EngineTensor g = Compare.Uniform(shape, 20 + step);
            Ops.Sum(Ops.Mul(y, g)).Backward();
            (ty * Compare.Torch(g)).sum().backward();
            Compare.Close(x.Grad!, tx.grad!, Tol, "grad x");
            if (affine)
            {
                Compare.Close(bn.Weight!.Grad!, tbn.weight!.grad!, Tol, "grad weight");
                Compare.Close(bn.Bias!.Grad!, tbn.bias!.grad!, Tol, "grad bias");
                bn.ZeroGrad();
                tbn.zero_grad();
            }
            Compare.Close(bn.RunningMean, tbn.running_mean!, Tol, "running_mean");
            Compare.Close(bn.RunningVar, tbn.running_var!, 1e-4, "running_var");
        }
        Assert.That(bn.NumBatchesTracked, Is.EqualTo(3));
        Assert.That(tbn.num_batches_tracked!.item<long>(), Is.EqualTo(3));

        bn.Eval();
        tbn.eval();
        EngineTensor xe = Compare.Uniform(shape, 99);
        Compare.Close(bn.Forward(xe), tbn.forward(Compare.Torch(xe)), Tol, "eval output");
        Assert.That(bn.NumBatchesTracked, Is.EqualTo(3), "evaluation does not count");
    }

    [Test]
    public void BatchNormKeysAreTorchs()
    {
        Assert.That(new BatchNorm1d(4).StateDict().Keys, Is.EqualTo(new[] { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" }));
        Assert.That(new BatchNorm1d(4, affine: false).StateDict().Keys, Is.EqualTo(new[] { "running_mean", "running_var", "num_batches_tracked" }));
        Assert.That(new BatchNorm1d(4).StateDict()["num_batches_tracked"].DType, Is.EqualTo(global::MaMA.Engine.Tensors.DType.Int64));
    }

    [Test]
    public void Conv1x1MatchesTorchConv1d()
    {
        using var scope = NewDisposeScope();
        var conv = new Conv1x1(5, 7, new Random(3));
        var tconv = TorchSharp.torch.nn.Conv1d(5, 7, 1);
        TorchState.Load(tconv, conv.StateDict());
        EngineTensor x = Compare.Uniform([3, 5, 4], 4);
        x.RequiresGrad = true;
        TorchTensor tx = Compare.Torch(x, true);
        EngineTensor y = conv.Forward(x);
        TorchTensor ty = tconv.forward(tx);
        Compare.Close(y, ty, Tol, "conv output");
        EngineTensor g = Compare.Uniform([3, 7, 4], 5);
        Ops.Sum(Ops.Mul(y, g)).Backward();
        (ty * Compare.Torch(g)).sum().backward();
        Compare.Close(x.Grad!, tx.grad!, Tol, "grad x");
        Compare.Close(conv.Weight.Grad!, tconv.weight!.grad!, Tol, "grad weight");
        Compare.Close(conv.Bias!.Grad!, tconv.bias!.grad!, Tol, "grad bias");
        Assert.That(conv.StateDict().Keys, Is.EqualTo(new[] { "weight", "bias" }));
        Assert.That(conv.Weight.ShapeArray, Is.EqualTo(new[] { 7, 5, 1 }));
    }

    [Test]
    public void LocalEmbeddingMatchesTorchOnPatches()
    {
        using var scope = NewDisposeScope();
        var head = new LocalEmbedding(12, 16, 8, new Random(7));
        RandomiseAffine(head);
        var theads = new TorchLocalEmbedding(12, 16, 8);
        Assert.That(head.StateDict().Keys.Order(), Is.EqualTo(theads.state_dict().Keys.Order()), "keys");
        TorchState.Load(theads, head.StateDict());
        for (int step = 0; step < 2; step++)
        {
            EngineTensor x = Compare.Uniform([3, 11, 12], 30 + step);
            x.RequiresGrad = true;
            TorchTensor tx = Compare.Torch(x, true);
            EngineTensor y = head.Forward(x);
            TorchTensor ty = theads.forward(tx);
            Compare.Close(y, ty, Tol, $"output, step {step}");
            EngineTensor g = Compare.Uniform([3, 11, 8], 40 + step);
            Ops.Sum(Ops.Mul(y, g)).Backward();
            (ty * Compare.Torch(g)).sum().backward();
            Compare.Close(x.Grad!, tx.grad!, 1e-4, "grad x");
            CompareGradients(head, theads, 1e-4);
            head.ZeroGrad();
            theads.zero_grad();
            CompareBuffers(head, theads);
        }
        head.Eval();
        theads.eval();
        EngineTensor xe = Compare.Uniform([2, 5, 12], 50);
        Compare.Close(head.Forward(xe), theads.forward(Compare.Torch(xe)), Tol, "eval output");
    }

    [Test]
    public void LocalEmbeddingSegmentsAreOneTorchCallPerReport()
    {
        using var scope = NewDisposeScope();
        var head = new LocalEmbedding(10, 16, 6, new Random(8));
        RandomiseAffine(head);
        var theads = new TorchLocalEmbedding(10, 16, 6);
        TorchState.Load(theads, head.StateDict());
        long[] offsets = [0, 3, 7, 9, 14];
        EngineTensor rows = Compare.Uniform([14, 10], 60);
        rows.RequiresGrad = true;
        TorchTensor trows = Compare.Torch(rows, true);
        EngineTensor y = head.ForwardSegments(rows, offsets);
        var parts = new List<TorchTensor>();
        for (int k = 0; k + 1 < offsets.Length; k++)
            parts.Add(theads.forward(trows[(int)offsets[k]..(int)offsets[k + 1]].unsqueeze(0)).squeeze(0));
        TorchTensor ty = cat(parts, 0);
        Compare.Close(y, ty, Tol, "segment outputs");
        EngineTensor g = Compare.Uniform([14, 6], 61);
        Ops.Sum(Ops.Mul(y, g)).Backward();
        (ty * Compare.Torch(g)).sum().backward();
        Compare.Close(rows.Grad!, trows.grad!, 1e-4, "grad rows");
        CompareGradients(head, theads, 1e-4);
        CompareBuffers(head, theads);
        Assert.That(head.Norm1.NumBatchesTracked, Is.EqualTo(4), "one running-statistics update per segment");
    }

    [Test]
    public void SimClrHeadMatchesTorch()
    {
        using var scope = NewDisposeScope();
        var head = new SimClrProjectionHead(12, 12, 6, new Random(9));
        var thead = new TorchSimClrProjectionHead(12, 12, 6);
        Assert.That(head.StateDict().Keys, Is.EqualTo(new[]
        {
            "layers.0.weight", "layers.1.weight", "layers.1.bias", "layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked",
            "layers.3.weight", "layers.4.weight", "layers.4.bias", "layers.4.running_mean", "layers.4.running_var", "layers.4.num_batches_tracked",
        }));
        Assert.That(head.StateDict().Keys.Order(), Is.EqualTo(thead.state_dict().Keys.Order()));
        RandomiseAffine(head);
        TorchState.Load(thead, head.StateDict());
        // Two calls per step as MaMA makes them (view 2, then view 1).
        EngineTensor a = Compare.Uniform([5, 12], 70), b = Compare.Uniform([5, 12], 71, -2f, 2f);
        a.RequiresGrad = true;
        TorchTensor ta = Compare.Torch(a, true), tb = Compare.Torch(b);
        EngineTensor ya = head.Forward(a), yb = head.Forward(b);
        TorchTensor tya = thead.forward(ta), tyb = thead.forward(tb);
        Compare.Close(ya, tya, Tol, "view a");
        Compare.Close(yb, tyb, Tol, "view b");
        EngineTensor g = Compare.Uniform([5, 6], 72);
        Ops.Add(Ops.Sum(Ops.Mul(ya, g)), Ops.Sum(Ops.Mul(yb, yb))).Backward();
        ((tya * Compare.Torch(g)).sum() + (tyb * tyb).sum()).backward();
        Compare.Close(a.Grad!, ta.grad!, 1e-4, "grad a");
        CompareGradients(head, thead, 1e-4);
        CompareBuffers(head, thead);
        head.Eval();
        thead.eval();
        Compare.Close(head.Forward(b), thead.forward(tb), Tol, "eval");
    }

    /// <summary>Non-trivial BatchNorm gains and shifts (they start at 1 and 0).</summary>
    internal static void RandomiseAffine(Module module)
    {
        int seed = 100;
        foreach ((string name, Parameter p) in module.NamedParameters())
            if (p.Rank == 1 && (name.EndsWith(".weight", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal)))
                p.CopyFrom(Compare.Uniform(p.ShapeArray, seed++, name.EndsWith(".weight", StringComparison.Ordinal) ? 0.5f : -0.5f, name.EndsWith(".weight", StringComparison.Ordinal) ? 1.5f : 0.5f));
    }

    internal static void CompareGradients(Module engine, TorchSharp.torch.nn.Module torch, double tol)
    {
        var tparams = torch.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach ((string name, Parameter p) in engine.NamedParameters())
        {
            TorchTensor? tg = tparams[name].grad;
            Assert.That(p.Grad is null, Is.EqualTo(tg is null), $"{name}: gradient presence");
            if (p.Grad is null) continue;
            if (BeforeTrainingBatchNorm(engine, name))
            {
                // A bias right before a training-mode BatchNorm has zero gradient in exact
                // arithmetic (the batch mean removes it); both sides hold rounding noise only.
                Assert.That(p.Grad.ToFloatArray().Max(MathF.Abs), Is.LessThan(1e-4f), $"grad {name} should vanish");
                Assert.That(tg!.abs().max().item<float>(), Is.LessThan(1e-4f), $"reference grad {name} should vanish");
                continue;
            }
            Compare.Close(p.Grad, tg!, tol, $"grad {name}");
        }
    }

    /// <summary>Conv biases of the local heads (head.0, head.3) feed a BatchNorm; in training its gradient is zero.</summary>
    internal static bool BeforeTrainingBatchNorm(Module engine, string name) =>
        engine.IsTraining && (name.EndsWith("head.0.bias", StringComparison.Ordinal) || name.EndsWith("head.3.bias", StringComparison.Ordinal));

    internal static void CompareBuffers(Module engine, TorchSharp.torch.nn.Module torch)
    {
        var tbuffers = torch.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach ((string name, EngineTensor b) in engine.NamedBuffers())
        {
            if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                Assert.That(b.ToArray<long>()[0], Is.EqualTo(tbuffers[name].item<long>()), name);
            else
                Compare.Close(b, tbuffers[name], name.EndsWith("running_var", StringComparison.Ordinal) ? 1e-4 : 1e-5, name);
        }
    }
}
