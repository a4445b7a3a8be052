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

    [Test]
    public void GeluKeepsItsFp32Input()
    {
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(x, 0.5f), (h, _) => Engine.Ops.Gelu(h));
        Assert.That(IsCollected(h), Is.False, "GELU's backward reads its input");
        Engine.Ops.Sum(y).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(GeluGrad([0.5f, 1f, 1.5f])).Within(1e-6f));
    }

    [Test]
    public void GeluUnderAutocastKeepsABf16CopyInsteadOfTheFp32Activation()
    {
        (Tensor x, Tensor y, WeakReference h) = Build(x => Engine.Ops.Scale(x, 0.5f),
            (h, _) =>
            {
                using (Autograd.Autocast.Bf16()) return Engine.Ops.Gelu(h);
            });
        Assert.That(IsCollected(h), Is.True, "under autocast the backward reads a bf16 copy");
        Engine.Ops.Sum(y).Backward();
        // 0.5, 1 and 1.5 are exact in bf16, so the gradient is the fp32 one.
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(GeluGrad([0.5f, 1f, 1.5f])).Within(1e-6f));
    }

    [Test]
    public void AttentionUnderAutocastSavesItsBf16OperandsNotWidenedCopies()
    {
        // q, k, v [1, 2, 64, 32] fp32 leaves: 16 KiB each, their bf16 copies 8 KiB, o 16 KiB, lse 512 B.
        // Saved now: the three bf16 copies, o and lse (40.5 KiB). Widened fp32 copies as well would be 88.5 KiB.
        var rng = new Random(5);
        Tensor[] qkv = Enumerable.Range(0, 3).Select(_ =>
        {
            Tensor t = Tensor.FromArray(Enumerable.Range(0, 4096).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [1, 2, 64, 32]);
            t.RequiresGrad = true;
            return t;
        }).ToArray();
        Devices.Device cpu = qkv[0].Device;
        Collect();
        long before = cpu.AllocatedBytes;
        Tensor o;
        using (Autograd.Autocast.Bf16()) o = Engine.Ops.Attention(qkv[0], qkv[1], qkv[2], null, causal: false, scale: 0.25f);
        Collect();
        long saved = cpu.AllocatedBytes - before;
        Assert.That(saved, Is.EqualTo(3 * (8 << 10) + (16 << 10) + 512), "bf16 q, k, v + fp32 o + lse");
        using (Autograd.Autocast.Bf16()) Engine.Ops.Sum(o).Backward();
        foreach (Tensor t in qkv)
        {
            Assert.That(t.Grad, Is.Not.Null);
            Assert.That(t.Grad!.DType, Is.EqualTo(DType.Float32));
            Assert.That(t.Grad.ToArray<float>().All(float.IsFinite), Is.True);
        }
    }

    [Test]
    public void ASecondBackwardThroughTheSameGraphNeedsRetainGraph()
    {
        // LayerNorm owns its mean and rstd: the first backward frees them.
        Tensor x = Tensor.FromArray([1f, 2f, 4f, -1f, 0f, 3f], [2, 3]);
        x.RequiresGrad = true;
        Tensor loss = Engine.Ops.Sum(Engine.Ops.Mul(Engine.Ops.LayerNorm(x, null, null), Engine.Ops.LayerNorm(x, null, null)));
        loss.Backward();
        float[] first = x.Grad!.ToArray<float>();
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward())!;
        Assert.That(e.Message, Does.Contain("a second time").And.Contain("retainGraph: true"));

        Tensor y = Tensor.FromArray([1f, 2f, 4f, -1f, 0f, 3f], [2, 3]);
        y.RequiresGrad = true;
        Tensor again = Engine.Ops.Sum(Engine.Ops.Mul(Engine.Ops.LayerNorm(y, null, null), Engine.Ops.LayerNorm(y, null, null)));
        again.Backward(retainGraph: true);
        again.Backward();
        float[] twice = y.Grad!.ToArray<float>();
        for (int i = 0; i < first.Length; i++) Assert.That(twice[i], Is.EqualTo(2 * first[i]).Within(1e-6f), "retained: the gradients accumulate");
    }

    [Test]
    public void SavedTensorsTheOpMadeAreDisposedByTheBackwardNotTheFinalizer()
    {
        // Attention owns its lse and the contiguous copies of the strided q, k, v views; LayerNorm its
        // mean and rstd: 6 storages. The same graph retained frees none of them.
        long retained = DisposedByBackward(retainGraph: true);
        long freed = DisposedByBackward(retainGraph: false);
        Assert.That(freed - retained, Is.EqualTo(6));
    }

    /// <summary>Storages freed by Dispose during one backward of attention + LayerNorm over strided views.</summary>
    private static long DisposedByBackward(bool retainGraph)
    {
        var rng = new Random(2);
        // qkv [B 2, T 16, 3, D 8]: q, k, v are [2, 1, 16, 8] views with a token stride of 24, as a ViT's.
        Tensor qkv = Tensor.FromArray(Enumerable.Range(0, 2 * 16 * 3 * 8).Select(_ => (float)rng.NextDouble()).ToArray(), [2, 16, 3, 8]);
        qkv.RequiresGrad = true;
        Tensor q = Engine.Ops.Permute(Engine.Ops.Narrow(qkv, 2, 0, 1), 0, 2, 1, 3);
        Tensor k = Engine.Ops.Permute(Engine.Ops.Narrow(qkv, 2, 1, 1), 0, 2, 1, 3);
        Tensor v = Engine.Ops.Permute(Engine.Ops.Narrow(qkv, 2, 2, 1), 0, 2, 1, 3);
        Assert.That(q.IsContiguous, Is.False);
        Tensor loss = Engine.Ops.Sum(Engine.Ops.LayerNorm(Engine.Ops.Attention(q, k, v, null, causal: false, scale: 0.3f), null, null));
        Collect();
        long before = Memory.Storage.ReleasedByDispose;
        loss.Backward(retainGraph: retainGraph);
        long released = Memory.Storage.ReleasedByDispose - before;
        GC.KeepAlive(qkv);
        GC.KeepAlive(loss);
        return released;
    }

    private static float[] GeluGrad(float[] xs) =>
        xs.Select(v => 0.5f * (0.5f * (1f + Erf(v / MathF.Sqrt(2f))) + v * MathF.Exp(-v * v / 2f) / MathF.Sqrt(2f * MathF.PI))).ToArray();

    /// <summary>erf by its Maclaurin series, exact to fp32 for the |v| &lt;= 1.1 used here.</summary>
    private static float Erf(float v)
    {
        double x = v, term = x, sum = x;
        for (int n = 1; n < 40; n++)
        {
            term *= -x * x / n;
            sum += term / (2 * n + 1);
        }
        return (float)(2 / Math.Sqrt(Math.PI) * sum);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
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
