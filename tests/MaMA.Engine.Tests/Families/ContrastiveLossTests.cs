using MaMA.Engine.Devices;
using MaMA.Interop.Torch.Parity;
using ContrastiveLosses = MaMA.Engine.Losses.Losses;
using Tensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// The fused contrastive losses (<see cref="ContrastiveLosses.ClipLoss"/>,
/// <see cref="ContrastiveLosses.InterViewContrast"/>): known values, a plain double-precision
/// reference written from SPEC 6 (the 2N x (2N - 1) NT-Xent matrix built literally), the ILGPU
/// simulator against the fast CPU path, and the log-scale gradient against a finite difference.
/// </summary>
[TestFixture]
public sealed class ContrastiveLossTests
{
    private static float[] Normal(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => OpData.Normal(rng)).ToArray();
    }

    private static float[] UnitRows(float[] x, int e)
    {
        var y = (float[])x.Clone();
        for (int r = 0; r < y.Length / e; r++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, e).Sum(j => (double)y[r * e + j] * y[r * e + j]));
            for (int j = 0; j < e; j++) y[r * e + j] = (float)(y[r * e + j] / norm);
        }
        return y;
    }

    private static double[] UnitRowsDouble(float[] x, int e)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / e; r++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, e).Sum(j => (double)x[r * e + j] * x[r * e + j]));
            for (int j = 0; j < e; j++) y[r * e + j] = x[r * e + j] / Math.Max(norm, 1e-12);
        }
        return y;
    }

    private static double Dot(double[] a, int i, double[] b, int j, int e)
    {
        double sum = 0;
        for (int k = 0; k < e; k++) sum += a[i * e + k] * b[j * e + k];
        return sum;
    }

    /// <summary>-log softmax(row)[target], in double.</summary>
    private static double CrossEntropyRow(IReadOnlyList<double> row, int target)
    {
        double max = row.Max();
        return max + Math.Log(row.Sum(x => Math.Exp(x - max))) - row[target];
    }

    /// <summary>CLIP(v, t) = CE(s v t^T) + CE(s t v^T), in double (v, t used as given).</summary>
    private static double ClipReference(float[] v, float[] t, int n, int e, double logScale)
    {
        double s = Math.Exp(logScale);
        double[] vd = Array.ConvertAll(v, x => (double)x), td = Array.ConvertAll(t, x => (double)x);
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            loss += CrossEntropyRow(Enumerable.Range(0, n).Select(j => s * Dot(vd, i, td, j, e)).ToArray(), i);
            loss += CrossEntropyRow(Enumerable.Range(0, n).Select(j => s * Dot(td, i, vd, j, e)).ToArray(), i);
        }
        return loss / n;
    }

    /// <summary>NT-Xent as SPEC 6 writes it: rows [X | A without diagonal] and [Y | Z without diagonal], target column i.</summary>
    private static double NtXentReference(float[] z0, float[] z1, int n, int e, double tau)
    {
        double[] a = UnitRowsDouble(z0, e), b = UnitRowsDouble(z1, e);
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            var top = new List<double>();
            for (int j = 0; j < n; j++) top.Add(Dot(a, i, b, j, e) / tau);
            for (int j = 0; j < n; j++) if (j != i) top.Add(Dot(a, i, a, j, e) / tau);
            var bottom = new List<double>();
            for (int j = 0; j < n; j++) bottom.Add(Dot(b, i, a, j, e) / tau);
            for (int j = 0; j < n; j++) if (j != i) bottom.Add(Dot(b, i, b, j, e) / tau);
            Assert.That(top, Has.Count.EqualTo(2 * n - 1));
            loss += CrossEntropyRow(top, i) + CrossEntropyRow(bottom, i);
        }
        return loss / (2 * n);
    }

    /// <summary>|actual - expected| &lt;= rel * max(|expected|, 1e-2) (losses near 0 compare absolutely).</summary>
    private static void AssertClose(double actual, double expected, double rel, string what) =>
        Assert.That(Math.Abs(actual - expected), Is.LessThanOrEqualTo(rel * Math.Max(Math.Abs(expected), 1e-2)), $"{what}: {actual} vs {expected}");

    private static float Clip(float[] v, float[] t, int n, int e, float logScale, Device? device = null) =>
        ContrastiveLosses.ClipLoss(Tensor.FromArray(v, [n, e], device), Tensor.FromArray(t, [n, e], device), Tensor.Scalar(logScale, device)).Item();

    private static float NtXent(float[] z0, float[] z1, int n, int e, float tau, Device? device = null) =>
        ContrastiveLosses.InterViewContrast(Tensor.FromArray(z0, [n, e], device), Tensor.FromArray(z1, [n, e], device), tau).Item();

    /// <summary>Row i = c_i * basis vector i (c_i &gt; 0 where the op normalises).</summary>
    private static float[] Basis(int n, int e, float[]? lengths = null)
    {
        var x = new float[n * e];
        for (int i = 0; i < n; i++) x[i * e + i] = lengths?[i] ?? 1f;
        return x;
    }

    [Test]
    public void AlignedEmbeddingsWithALargeScaleGiveANearZeroLoss()
    {
        const int n = 8, e = 16;
        float[] basis = Basis(n, e);
        // s = 100: positives at 100, negatives at 0, so CLIP = 2 log(1 + 7 e^-100) ~ 0.
        Assert.That(Clip(basis, basis, n, e, MathF.Log(100f)), Is.InRange(0f, 1e-6f));
        // tau = 0.01: the positive pair at 1 / tau = 100, all other logits 0 (self-similarities removed).
        float[] scaled = Basis(n, e, [.. Enumerable.Range(1, n).Select(i => 0.5f * i)]);
        Assert.That(NtXent(scaled, basis, n, e, 0.01f), Is.InRange(0f, 1e-6f));
    }

    [TestCase(1)]
    [TestCase(5)]
    [TestCase(37)]
    public void IdenticalRowsGiveLogN(int n)
    {
        const int e = 12;
        float[] row = UnitRows(Normal(e, 1), e);
        float[] same = [.. Enumerable.Range(0, n).SelectMany(_ => row)];
        // Every logit equal: each of the two cross-entropies is log N.
        Assert.That(Clip(same, same, n, e, 1.3f), Is.EqualTo(2 * Math.Log(n)).Within(1e-5));
        // NT-Xent: 2N - 1 equal logits per row.
        Assert.That(NtXent(same, same, n, e, 0.5f), Is.EqualTo(Math.Log(2 * n - 1)).Within(1e-5));
    }

    /// <summary>Sizes around the CPU vector width (16 and 8 columns) and MaMA's micro-batch.</summary>
    [TestCase(2, 3)]
    [TestCase(16, 9)]
    [TestCase(37, 45)]
    [TestCase(288, 512)]
    public void LossesMatchTheDoubleReference(int n, int e)
    {
        float[] v = UnitRows(Normal(n * e, 2), e), t = UnitRows(Normal(n * e, 3), e);
        const float logScale = 2.65926f;
        AssertClose(Clip(v, t, n, e, logScale), ClipReference(v, t, n, e, logScale), 1e-5, "clip");
        float[] z0 = Normal(n * e, 4), z1 = Normal(n * e, 5);
        AssertClose(NtXent(z0, z1, n, e, 0.5f), NtXentReference(z0, z1, n, e, 0.5), 1e-5, "ntxent tau 0.5");
        AssertClose(NtXent(z0, z1, n, e, 0.1f), NtXentReference(z0, z1, n, e, 0.1), 1e-5, "ntxent tau 0.1");
    }

    [Test]
    public void LogitScaleGradientMatchesAFiniteDifference()
    {
        const int n = 23, e = 31;
        float[] v = UnitRows(Normal(n * e, 6), e), t = UnitRows(Normal(n * e, 7), e);
        foreach (float logScale in new[] { -0.7f, 0.4f, 2.65926f })
        {
            Tensor ls = Tensor.Scalar(logScale);
            ls.RequiresGrad = true;
            Tensor loss = ContrastiveLosses.ClipLoss(Tensor.FromArray(v, [n, e]), Tensor.FromArray(t, [n, e]), ls);
            loss.Backward();
            double fused = ls.Grad!.Item();

            // Central difference of the double reference (no fp32 noise): h^2 truncation only.
            const double h = 1e-4;
            double reference = (ClipReference(v, t, n, e, logScale + h) - ClipReference(v, t, n, e, logScale - h)) / (2 * h);
            AssertClose(fused, reference, 1e-5, $"log-scale {logScale}");

            // And of the fused forward itself, in fp32 (a wider step against rounding).
            const float hf = 1e-2f;
            double own = (Clip(v, t, n, e, logScale + hf) - Clip(v, t, n, e, logScale - hf)) / (2.0 * hf);
            AssertClose(fused, own, 2e-3, $"log-scale {logScale}, fp32 forward");
        }
    }

    /// <summary>
    /// The fast CPU path at sizes that split it into several row bands (and, for NT-Xent, leave
    /// the self blocks' lower parts to the backward's mirror): ragged GEMM panels (150 = 4 x 32 + 22,
    /// 150 = 18 x 8 + 6 rows) and MaMA's N = 288. Loss and every gradient against TorchSharp,
    /// fp32 relative error &lt;= 1e-4.
    /// </summary>
    [TestCase(150, 100)]
    [TestCase(288, 64)]
    public void MultiBandCpuPathMatchesTorchSharp(int n, int e)
    {
        float[] v = UnitRows(Normal(n * e, 10), e), t = UnitRows(Normal(n * e, 11), e);
        float[] z0 = Normal(n * e, 12), z1 = Normal(n * e, 13);
        const float logScale = 2.65926f, dy = 0.6f;
        static float[] Data(TorchSharp.torch.Tensor x) => x.detach().contiguous().data<float>().ToArray();
        foreach (bool interView in new[] { false, true })
        {
            float[] a = interView ? z0 : v, b = interView ? z1 : t;
            Tensor x = Tensor.FromArray(a, [n, e]), y = Tensor.FromArray(b, [n, e]), ls = Tensor.Scalar(logScale);
            Tensor[] leaves = interView ? [x, y] : [x, y, ls];
            foreach (Tensor leaf in leaves) leaf.RequiresGrad = true;
            Tensor loss = interView ? ContrastiveLosses.InterViewContrast(x, y, 0.5f) : ContrastiveLosses.ClipLoss(x, y, ls);
            loss.Backward(Tensor.Scalar(dy));

            using var scope = TorchSharp.torch.NewDisposeScope();
            var tx = TorchSharp.torch.tensor(a, [n, e]).requires_grad_(true);
            var ty = TorchSharp.torch.tensor(b, [n, e]).requires_grad_(true);
            var tls = TorchSharp.torch.tensor(logScale).requires_grad_(true);
            var tLoss = interView ? OpCatalog.TorchNtXentLoss(tx, ty, 0.5f) : OpCatalog.TorchClipLoss(tx, ty, tls);
            tLoss.backward([TorchSharp.torch.tensor(dy)]);
            string what = interView ? "ntxent" : "clip";
            AssertClose(loss.Item(), tLoss.item<float>(), 1e-4, $"{what} loss");
            Assert.That(OpResult.RelativeError(x.Grad!.ToFloatArray(), Data(tx.grad!)), Is.LessThanOrEqualTo(1e-4), $"{what} grad left");
            Assert.That(OpResult.RelativeError(y.Grad!.ToFloatArray(), Data(ty.grad!)), Is.LessThanOrEqualTo(1e-4), $"{what} grad right");
            if (!interView) AssertClose(ls.Grad!.Item(), tls.grad!.item<float>(), 1e-4, "clip grad log-scale");
        }
    }

    // n = 37: rows of 2 runs (CLIP) and 3 (NT-Xent, 74 logits); n = 150: 5 and 10, the last ones short.
    [TestCase(false, 37)]
    [TestCase(true, 37)]
    [TestCase(false, 150)]
    [TestCase(true, 150)]
    public void IlgpuSimulatorMatchesTheCpuBackend(bool interView, int n)
    {
        const int e = 45;
        float[] a = Normal(n * e, 8), b = Normal(n * e, 9);
        float[] aUnit = UnitRows(a, e), bUnit = UnitRows(b, e);
        (float Loss, float[][] Grads) Run(Device device)
        {
            Tensor x = Tensor.FromArray(interView ? a : aUnit, [n, e], device), y = Tensor.FromArray(interView ? b : bUnit, [n, e], device);
            Tensor ls = Tensor.Scalar(1.7f, device);
            Tensor[] leaves = interView ? [x, y] : [x, y, ls];
            foreach (Tensor leaf in leaves) leaf.RequiresGrad = true;
            Tensor loss = interView ? ContrastiveLosses.InterViewContrast(x, y, 0.5f) : ContrastiveLosses.ClipLoss(x, y, ls);
            loss.Backward(Tensor.Scalar(0.6f, device));
            return (loss.Item(), [.. leaves.Select(l => l.Grad!.ToFloatArray())]);
        }
        (float cpuLoss, float[][] cpuGrads) = Run(Device.Cpu);
        (float simLoss, float[][] simGrads) = Run(Device.Parse("ilgpu-cpu"));
        Assert.That(simLoss, Is.EqualTo(cpuLoss).Within(1e-5).Percent);
        for (int i = 0; i < cpuGrads.Length; i++)
            Assert.That(OpResult.RelativeError(simGrads[i], cpuGrads[i]), Is.LessThan(1e-5), $"gradient {i}");
    }

    /// <summary>
    /// A NaN embedding makes the loss NaN on the simulator as on the CPU, where the row statistics
    /// run in parts (Runs) that are merged per row.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public void NaNEmbedding_MakesTheLossNaN_OnTheSimulator(bool interView)
    {
        const int n = 70, e = 16;
        float[] a = Normal(n * e, 10), b = Normal(n * e, 11);
        a[50 * e + 3] = float.NaN;
        float Loss(Device device)
        {
            Tensor x = Tensor.FromArray(a, [n, e], device), y = Tensor.FromArray(b, [n, e], device);
            return (interView ? ContrastiveLosses.InterViewContrast(x, y, 0.5f) : ContrastiveLosses.ClipLoss(x, y, Tensor.Scalar(1.7f, device))).Item();
        }
        Assert.That(float.IsNaN(Loss(Device.Cpu)), Is.True, "cpu");
        Assert.That(float.IsNaN(Loss(Device.Parse("ilgpu-cpu"))), Is.True, "ilgpu-cpu");
    }

    [Test]
    public void NoGradientRecordedWithoutInputsThatNeedOne()
    {
        const int n = 5, e = 7;
        Tensor loss = ContrastiveLosses.ClipLoss(Tensor.FromArray(UnitRows(Normal(n * e, 10), e), [n, e]),
            Tensor.FromArray(UnitRows(Normal(n * e, 11), e), [n, e]), Tensor.Scalar(0f));
        Assert.That(loss.RequiresGrad, Is.False);
        Assert.That(loss.ShapeArray, Is.Empty);
    }

    [Test]
    public void BadInputsAreRejectedWithClearMessages()
    {
        Tensor v = Tensor.Zeros([4, 8]), t3 = Tensor.Zeros([3, 8]), scale = Tensor.Scalar(0f);
        Assert.That(() => ContrastiveLosses.ClipLoss(v, t3, scale), Throws.ArgumentException.With.Message.Contains("[4, 8]").And.Message.Contains("[3, 8]"));
        Assert.That(() => ContrastiveLosses.ClipLoss(v, v, Tensor.Zeros([2])), Throws.ArgumentException.With.Message.Contains("0-d"));
        Assert.That(() => ContrastiveLosses.ClipLoss(Tensor.Zeros([4]), Tensor.Zeros([4]), scale), Throws.ArgumentException.With.Message.Contains("[N, E]"));
        Assert.That(() => ContrastiveLosses.InterViewContrast(v, t3), Throws.ArgumentException.With.Message.Contains("z1"));
        Assert.That(() => ContrastiveLosses.InterViewContrast(v, v, 0f), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("temperature"));
    }
}
