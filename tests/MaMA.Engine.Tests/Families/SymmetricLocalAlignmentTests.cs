using MaMA.Engine.Devices;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using MaMA.Kernels.Cpu;
using SlaLosses = MaMA.Engine.Losses.Losses;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// Symmetric Local Alignment: a case small enough to work out by hand (exact scores, losses and
/// gradients), the ILGPU kernels (simulator) against the fast CPU path, the 256-bit CPU path
/// against the 512-bit one, offset validation, and the memory bound at MaMA's shape.
/// </summary>
[TestFixture]
public sealed class SymmetricLocalAlignmentTests
{
    // N = 2 images of P = 2 unit patches, reports with S = [1, 2] unit sentences, E = 2.
    private static readonly float[] TinyPatches = [1f, 0f, 0f, 1f, 0.6f, 0.8f, -0.8f, 0.6f];
    private static readonly float[] TinySentences = [1f, 0f, 0f, 1f, 0.6f, 0.8f];
    private static readonly long[] TinyOffsets = [0, 1, 3];

    // Worked out from the definition (rows reports, columns images):
    // image 0 vs report 0: sims (1, 0) -> t2i 1, i2t (1 + 0) / 2 = 0.5
    // image 0 vs report 1: p0 (0, 0.6), p1 (1, 0.8) -> t2i (1 + 0.8) / 2 = 0.9, i2t (0.6 + 1) / 2 = 0.8
    // image 1 vs report 0: sims (0.6, -0.8) -> t2i 0.6, i2t (0.6 - 0.8) / 2 = -0.1
    // image 1 vs report 1: p0 (0.8, 1), p1 (0.6, 0) -> t2i (0.8 + 1) / 2 = 0.9, i2t (1 + 0.6) / 2 = 0.8
    private static readonly double[,] TinyT2I = { { 1.0, 0.6 }, { 0.9, 0.9 } };
    private static readonly double[,] TinyI2T = { { 0.5, -0.1 }, { 0.8, 0.8 } };

    private static (Tensor Patches, Tensor Sentences, Tensor Offsets, Tensor LocalScale) Tiny(Device device, float localScale)
    {
        Tensor patches = Tensor.FromArray(TinyPatches, [2, 2, 2], device);
        Tensor sentences = Tensor.FromArray(TinySentences, [3, 2], device);
        Tensor scale = Tensor.Scalar(localScale, device);
        patches.RequiresGrad = sentences.RequiresGrad = scale.RequiresGrad = true;
        return (patches, sentences, Tensor.FromArray(TinyOffsets, [3], device), scale);
    }

    /// <summary>CE(l A) + CE(l A^T) and its derivative with respect to log l, in double.</summary>
    private static (double Loss, double DLogScale) SymmetricCe(double[,] a, double l)
    {
        double loss = 0, grad = 0;
        foreach (bool transpose in new[] { false, true })
        {
            int n = a.GetLength(0);
            for (int i = 0; i < n; i++)
            {
                double[] z = Enumerable.Range(0, n).Select(j => l * (transpose ? a[j, i] : a[i, j])).ToArray();
                double max = z.Max();
                double sum = z.Sum(v => Math.Exp(v - max));
                loss += (max + Math.Log(sum) - z[i]) / n;
                // d/dlog l of the row's term: sum_j (softmax_j - [j == i]) z_j.
                for (int j = 0; j < n; j++) grad += (Math.Exp(z[j] - max) / sum - (i == j ? 1 : 0)) * z[j] / n;
            }
        }
        return (loss, grad);
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void TinyCaseMatchesTheHandComputedScoresAndLosses(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        float localScale = MathF.Log(2f);
        var (patches, sentences, offsets, scale) = Tiny(device, localScale);
        SymmetricLocalAlignmentResult result = SlaLosses.SymmetricLocalAlignment(patches, sentences, offsets, scale);

        float[] t2i = result.T2I.ToFloatArray(), i2t = result.I2T.ToFloatArray();
        for (int m = 0; m < 2; m++)
            for (int n = 0; n < 2; n++)
            {
                Assert.That(t2i[m * 2 + n], Is.EqualTo(TinyT2I[m, n]).Within(1e-6), $"t2i[{m}, {n}]");
                Assert.That(i2t[m * 2 + n], Is.EqualTo(TinyI2T[m, n]).Within(1e-6), $"i2t[{m}, {n}]");
            }
        (double lossT2I, double gradT2I) = SymmetricCe(TinyT2I, 2.0);
        (double lossI2T, double gradI2T) = SymmetricCe(TinyI2T, 2.0);
        // e.g. CE(2 t2i) row 0 = log(1 + e^(1.2 - 2)) = log(1 + e^-0.8); row 1 = log 2.
        Assert.That(lossT2I, Is.EqualTo((Math.Log(1 + Math.Exp(-0.8)) + Math.Log(2)) / 2 + (Math.Log(1 + Math.Exp(-0.2)) + Math.Log(1 + Math.Exp(-0.6))) / 2).Within(1e-12));
        Assert.That(result.LossT2I.Item(), Is.EqualTo(lossT2I).Within(1e-6));
        Assert.That(result.LossI2T.Item(), Is.EqualTo(lossI2T).Within(1e-6));

        Engine.Ops.Add(result.LossT2I, result.LossI2T).Backward();
        Assert.That(scale.Grad!.Item(), Is.EqualTo(gradT2I + gradI2T).Within(1e-5), "d loss / d local_scale");
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void TinyCaseGradientsFollowTheSelections(string deviceName)
    {
        Device device = Device.Parse(deviceName);

        // sum(t2i): each (report m, image n, sentence s) sends q_m[s] / S_m to its best patch and
        // that patch / S_m to the sentence. Best patches: (m0, n0) p0; (m0, n1) p0;
        // (m1, n0) s0 -> p1, s1 -> p1; (m1, n1) s0 -> p0, s1 -> p0.
        var (patches, sentences, offsets, _) = Tiny(device, 0f);
        Engine.Ops.Sum(SlaLosses.LocalAlignmentScores(patches, sentences, offsets).T2I).Backward();
        AssertClose(patches.Grad!, [1f, 0f, 0.3f, 0.9f, 1.3f, 0.9f, 0f, 0f], "d sum(t2i) / d patches");
        AssertClose(sentences.Grad!, [1.6f, 0.8f, 0.3f, 0.9f, 0.3f, 0.9f], "d sum(t2i) / d sentences");

        // sum(i2t): each (report m, image n, patch p) sends its best sentence / P to the patch and
        // the patch / P to that sentence. Report 0 always picks q0; report 1: p0 -> q2, p1 -> q1
        // for both images.
        (patches, sentences, offsets, _) = Tiny(device, 0f);
        Engine.Ops.Sum(SlaLosses.LocalAlignmentScores(patches, sentences, offsets).I2T).Backward();
        AssertClose(patches.Grad!, [0.8f, 0.4f, 0.5f, 0.5f, 0.8f, 0.4f, 0.5f, 0.5f], "d sum(i2t) / d patches");
        AssertClose(sentences.Grad!, [0.4f, 1.2f, -0.4f, 0.8f, 0.8f, 0.4f], "d sum(i2t) / d sentences");
    }

    private static void AssertClose(Tensor actual, float[] expected, string what)
    {
        float[] values = actual.ToFloatArray();
        Assert.That(values, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(values[i], Is.EqualTo(expected[i]).Within(1e-6), $"{what} [{i}]");
    }

    private static float[] Normal(int count, Random rng) => Enumerable.Range(0, count).Select(_ => OpData.Normal(rng)).ToArray();

    /// <summary>U(-1, 1): cheap enough for the 25 M values of MaMA's shape.</summary>
    private static float[] Uniform(int count, Random rng)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = 2f * rng.NextSingle() - 1f;
        return x;
    }

    [Test]
    public void IlgpuSimulatorMatchesTheCpuPath()
    {
        // Two patch blocks and several work items on the CPU path; R = 12 leaves a partial tile.
        const int n = 5, p = 40, e = 37;
        long[] offsetValues = OpCatalog.SlaOffsets([2, 1, 5, 3, 1]);
        int rows = (int)offsetValues[^1];
        var rng = new Random(5);
        float[] patchValues = Normal(n * p * e, rng), sentenceValues = Normal(rows * e, rng);

        Dictionary<string, float[]> Run(Device device)
        {
            Tensor patches = Tensor.FromArray(patchValues, [n, p, e], device);
            Tensor sentences = Tensor.FromArray(sentenceValues, [rows, e], device);
            Tensor scale = Tensor.Scalar(0.7f, device);
            patches.RequiresGrad = sentences.RequiresGrad = scale.RequiresGrad = true;
            SymmetricLocalAlignmentResult r = SlaLosses.SymmetricLocalAlignment(Engine.Ops.L2Normalize(patches), Engine.Ops.L2Normalize(sentences),
                Tensor.FromArray(offsetValues, [n + 1], device), scale);
            Engine.Ops.Add(r.LossT2I, Engine.Ops.Scale(r.LossI2T, 0.5f)).Backward();
            return new()
            {
                ["t2i"] = r.T2I.ToFloatArray(), ["i2t"] = r.I2T.ToFloatArray(),
                ["loss_t2i"] = [r.LossT2I.Item()], ["loss_i2t"] = [r.LossI2T.Item()],
                ["grad_patches"] = patches.Grad!.ToFloatArray(), ["grad_sentences"] = sentences.Grad!.ToFloatArray(), ["grad_local_scale"] = [scale.Grad!.Item()],
            };
        }

        Dictionary<string, float[]> cpu = Run(Device.Cpu), sim = Run(Device.Parse("ilgpu-cpu"));
        foreach ((string name, float[] expected) in cpu)
            Assert.That(OpResult.RelativeError(sim[name], expected), Is.LessThan(1e-5), name);
    }

    /// <summary>
    /// A NaN patch embedding makes its similarities NaN. Every path then gives NaN maxima, whether
    /// the NaN patch comes first (image 0) or later (image 1, patch 29, in the CPU path's second
    /// block), so image 0's and 1's scores are NaN against every report and image 2's stay finite
    /// and equal across paths; the argmax is the NaN patch (SlaMax). Before, the CPU path skipped
    /// NaN and the kernels took it only in first position.
    /// </summary>
    [Test]
    public unsafe void NaNSimilarity_MakesItsMaximaNaN_OnEveryPath()
    {
        const int n = 3, p = 40, e = 17;
        long[] offsetValues = OpCatalog.SlaOffsets([2, 1, 3]);
        int rows = (int)offsetValues[^1];
        var rng = new Random(11);
        float[] patchValues = Normal(n * p * e, rng), sentenceValues = Normal(rows * e, rng);
        patchValues[(0 * p + 0) * e + 3] = float.NaN;
        patchValues[(1 * p + 29) * e + 5] = float.NaN;

        (float[] T2I, float[] I2T) Run(Device device, GemmForm form)
        {
            SlaLosses.LocalAlignment = form;
            try
            {
                SymmetricLocalAlignmentResult r = SlaLosses.SymmetricLocalAlignment(Tensor.FromArray(patchValues, [n, p, e], device),
                    Tensor.FromArray(sentenceValues, [rows, e], device), Tensor.FromArray(offsetValues, [n + 1], device), Tensor.Scalar(0.7f, device));
                return (r.T2I.ToFloatArray(), r.I2T.ToFloatArray());
            }
            finally
            {
                SlaLosses.LocalAlignment = GemmForm.Auto;
            }
        }

        var paths = new Dictionary<string, (float[] T2I, float[] I2T)>
        {
            ["cpu"] = Run(Device.Cpu, GemmForm.Auto),
            ["ilgpu-cpu kernels"] = Run(Device.Parse("ilgpu-cpu"), GemmForm.Kernels),
            ["ilgpu-cpu gemm"] = Run(Device.Parse("ilgpu-cpu"), GemmForm.Gemm),
        };
        foreach ((string path, (float[] t2i, float[] i2t)) in paths)
            for (int m = 0; m < n; m++)
                for (int img = 0; img < n; img++)
                {
                    bool nan = img < 2;
                    Assert.That(float.IsNaN(t2i[m * n + img]), Is.EqualTo(nan), $"{path}: t2i report {m} image {img}");
                    Assert.That(float.IsNaN(i2t[m * n + img]), Is.EqualTo(nan), $"{path}: i2t report {m} image {img}");
                    if (!nan)
                    {
                        Assert.That(t2i[m * n + img], Is.EqualTo(paths["cpu"].T2I[m * n + img]).Within(1e-5), $"{path}: t2i report {m} image {img}");
                        Assert.That(i2t[m * n + img], Is.EqualTo(paths["cpu"].I2T[m * n + img]).Within(1e-5), $"{path}: i2t report {m} image {img}");
                    }
                }

        // The selections on both CPU widths: the NaN patch for every sentence row of images 0 and 1,
        // and for those patches the report's first sentence.
        int[] offsets = Array.ConvertAll(offsetValues, v => (int)v);
        foreach (bool wide in new[] { true, false })
        {
            var scores = new float[2 * n * n];
            var argP = new int[n * rows];
            var argS = new int[n * p * n];
            fixed (float* pp = patchValues, ps = sentenceValues, psc = scores)
            fixed (int* po = offsets, pap = argP, pas = argS)
                LocalAlignmentCpu.Forward(n, p, rows, e, pp, ps, po, psc, pap, pas, wide);
            for (int row = 0; row < rows; row++)
                Assert.That((argP[0 * rows + row], argP[1 * rows + row]), Is.EqualTo((0, 29)), $"wide {wide}: argP of row {row}");
            for (int m = 0; m < n; m++)
                Assert.That((argS[(0 * p + 0) * n + m], argS[(1 * p + 29) * n + m]), Is.EqualTo((0, 0)), $"wide {wide}: argS of report {m}");
        }
    }

    [Test]
    public unsafe void NarrowVectorPathMatchesTheWideOne()
    {
        const int n = 6, p = 70, e = 83;
        long[] offsetValues = OpCatalog.SlaOffsets([3, 1, 4, 1, 5, 2]);
        int rows = (int)offsetValues[^1];
        int[] offsets = Array.ConvertAll(offsetValues, v => (int)v);
        var rng = new Random(9);
        float[] patches = Normal(n * p * e, rng), sentences = Normal(rows * e, rng), g = Normal(2 * n * n, rng);

        (float[] Scores, int[] ArgP, int[] ArgS, float[] DPatches, float[] DSentences) Run(bool wide)
        {
            var scores = new float[2 * n * n];
            var argP = new int[n * rows];
            var argS = new int[n * p * n];
            var dPatches = new float[patches.Length];
            var dSentences = new float[sentences.Length];
            fixed (float* pp = patches, ps = sentences, psc = scores, pg = g, pdp = dPatches, pds = dSentences)
            fixed (int* po = offsets, pap = argP, pas = argS)
            {
                LocalAlignmentCpu.Forward(n, p, rows, e, pp, ps, po, psc, pap, pas, wide);
                LocalAlignmentCpu.Backward(n, p, rows, e, pp, ps, po, pap, pas, pg, pdp, pds, wide);
            }
            return (scores, argP, argS, dPatches, dSentences);
        }

        var wideRun = Run(true);
        var narrowRun = Run(false);
        // The dot products are the same FMA sequence on both widths, so the selections agree exactly;
        // only the grouping of the i2t sums differs.
        Assert.That(narrowRun.ArgP, Is.EqualTo(wideRun.ArgP));
        Assert.That(narrowRun.ArgS, Is.EqualTo(wideRun.ArgS));
        Assert.That(OpResult.RelativeError(narrowRun.Scores, wideRun.Scores), Is.LessThan(1e-6));
        Assert.That(OpResult.RelativeError(narrowRun.DPatches, wideRun.DPatches), Is.LessThan(1e-6));
        Assert.That(OpResult.RelativeError(narrowRun.DSentences, wideRun.DSentences), Is.LessThan(1e-6));
    }

    [Test]
    public void BadOffsetsAreRejectedNamingThem()
    {
        Tensor patches = Tensor.FromArray(TinyPatches, [2, 2, 2]);
        Tensor sentences = Tensor.FromArray(TinySentences, [3, 2]);
        Tensor scale = Tensor.Scalar(0f);
        foreach (long[] bad in new long[][] { [1, 2, 3], [0, 3, 3], [0, 2, 1], [0, 1, 2], [0, 1, 2, 3] })
        {
            var e = Assert.Throws<ArgumentException>(() => SlaLosses.SymmetricLocalAlignment(patches, sentences, Tensor.FromArray(bad, [bad.Length]), scale),
                $"offsets [{string.Join(", ", bad)}]");
            Assert.That(e!.Message, Does.Contain("sentence_offsets"));
        }
        var floats = Assert.Throws<ArgumentException>(() => SlaLosses.SymmetricLocalAlignment(patches, sentences, Tensor.FromArray(new float[] { 0, 1, 3 }, [3]), scale));
        Assert.That(floats!.Message, Does.Contain("sentence_offsets"));
        Assert.Throws<ArgumentException>(() => SlaLosses.SymmetricLocalAlignment(patches, Tensor.FromArray(new float[9], [3, 3]), Tensor.FromArray(TinyOffsets, [3]), scale));
    }

    [Test]
    public void PeakMemoryAtMaMAsShapeStaysFarBelowTheSimilarityTensor()
    {
        const int n = 36, p = 1369, e = 512;
        long[] offsetValues = OpCatalog.SlaOffsets(Enumerable.Range(0, n).Select(m => 4 + m * 5 % 9).ToArray());
        int rows = (int)offsetValues[^1];
        var rng = new Random(3);
        var cpu = (CpuDevice)Device.Cpu;
        using Tensor patches = Tensor.FromArray(Uniform(n * p * e, rng), [n, p, e]);
        using Tensor sentences = Tensor.FromArray(Uniform(rows * e, rng), [rows, e]);
        using Tensor offsets = Tensor.FromArray(offsetValues, [n + 1]);
        using Tensor scale = Tensor.Scalar(0f);
        patches.RequiresGrad = sentences.RequiresGrad = scale.RequiresGrad = true;

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long baseline = cpu.AllocatedBytes;
        cpu.ResetPeakAllocatedBytes();
        SymmetricLocalAlignmentResult result = SlaLosses.SymmetricLocalAlignment(patches, sentences, offsets, scale);
        Tensor loss = Engine.Ops.Add(result.LossT2I, result.LossI2T);
        long forward = cpu.PeakAllocatedBytes - baseline;
        loss.Backward();
        long total = cpu.PeakAllocatedBytes - baseline;

        long similarity = (long)n * n * p * 12 * sizeof(float); // [N, N, P, S_max] fp32: 85 MB
        long selections = ((long)n * p * n + (long)n * rows) * sizeof(int); // argS + argP: 7 MB
        long gradients = CachingAllocatorRound(patches.Numel * 4) + CachingAllocatorRound(sentences.Numel * 4);
        TestContext.Out.WriteLine($"forward peak {forward / 1e6:F1} MB (selections {selections / 1e6:F1} MB), forward + backward {total / 1e6:F1} MB " +
            $"(gradients {gradients / 1e6:F1} MB); the similarity tensor would be {similarity / 1e6:F1} MB");
        Assert.That(forward, Is.LessThan(selections + (4 << 20)), "forward: the selections and small tensors only");
        Assert.That(forward, Is.LessThan(similarity / 8));
        Assert.That(total, Is.LessThan(gradients + selections + (4 << 20)), "backward: the input gradients on top");
        patches.Grad?.Dispose();
        sentences.Grad?.Dispose();
    }

    private static long CachingAllocatorRound(long bytes) => Memory.CachingAllocator<object>.RoundSize(bytes);
}
