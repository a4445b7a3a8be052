using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using SlaLosses = MaMA.Engine.Losses.Losses;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// The GEMM form of SLA (what CUDA with cuBLAS runs: per chunk of images, sim [c P, R] by one GEMM,
/// maxima from it, backward through a sparse dsim and two GEMMs), on the ILGPU CPU simulator with
/// the generated GEMM: scores, losses and every gradient equal the per-row kernels' (themselves
/// checked against the CPU path and libtorch), for reports of 1 to 12 sentences, in one chunk,
/// in chunks with a short last one, and one image at a time. With bf16 embeddings (autocast) the
/// GEMM form's similarity products run on the tensor cores (the simulator's emulated mma) and match
/// the CPU's fp32 arithmetic on the same bf16 values.
/// </summary>
[TestFixture]
[NonParallelizable]  // switches a process-wide setting of Losses
public sealed class SymmetricLocalAlignmentGemmTests
{
    private static Device Simulator => Device.Parse("ilgpu-cpu");

    [TearDown]
    public void Restore()
    {
        SlaLosses.LocalAlignment = GemmForm.Auto;
        SlaLosses.SlaChunkElements = 16L << 20;
    }

    // (N, P, E, images per chunk)
    [TestCase(3, 5, 8, 3, TestName = "SlaGemm_N3_P5_E8_OneChunk")]
    [TestCase(6, 37, 33, 4, TestName = "SlaGemm_N6_P37_E33_Chunks4And2")]
    [TestCase(5, 9, 16, 1, TestName = "SlaGemm_N5_P9_E16_ChunksOf1")]
    public void GemmForm_EqualsTheRowKernels(int n, int p, int e, int imagesPerChunk)
    {
        SlaLosses.LocalAlignment = GemmForm.Kernels;
        long before = DeviceGemm.Calls;
        float[][] kernels = Run(n, p, e);
        Assert.That(DeviceGemm.Calls, Is.EqualTo(before), "the per-row kernels ran no GEMM");
        SlaLosses.LocalAlignment = GemmForm.Gemm;
        int r = Enumerable.Range(0, n).Sum(m => 1 + m * 5 % 12);
        SlaLosses.SlaChunkElements = (long)imagesPerChunk * p * r;
        before = DeviceGemm.Calls;
        float[][] gemm = Run(n, p, e);
        Assert.That(DeviceGemm.Calls, Is.GreaterThan(before), "the GEMM form ran its GEMMs");

        string[] names = ["loss_t2i", "loss_i2t", "t2i", "i2t", "grad_patches", "grad_sentences", "grad_local_scale"];
        for (int i = 0; i < names.Length; i++)
            Assert.That(OpResult.RelativeError(gemm[i], kernels[i]), Is.LessThan(1e-5), names[i]);
        Assert.That(kernels[4].Count(x => x != 0f), Is.GreaterThan(0), "the patches get a gradient");
    }

    [TestCase(GemmForm.Gemm, TestName = "SlaBf16_GemmForm_OnTheTensorCores")]
    [TestCase(GemmForm.Kernels, TestName = "SlaBf16_RowKernels")]
    public void Bf16Embeddings_MatchTheCpu(GemmForm form)
    {
        const int n = 4, p = 21, e = 32;
        SlaLosses.LocalAlignment = form;
        long before = DeviceGemm.Bf16Calls;
        float[][] sim = Run(n, p, e, Simulator, bf16: true);
        // One similarity GEMM per chunk (one chunk here) in the GEMM form; none for the row kernels.
        Assert.That(DeviceGemm.Bf16Calls - before, Is.EqualTo(form == GemmForm.Gemm ? 1 : 0), "bf16 similarity GEMMs");
        float[][] cpu = Run(n, p, e, Device.Cpu, bf16: true);
        string[] names = ["loss_t2i", "loss_i2t", "t2i", "i2t", "grad_patches", "grad_sentences", "grad_local_scale"];
        for (int i = 0; i < names.Length; i++)
            Assert.That(OpResult.RelativeError(sim[i], cpu[i]), Is.LessThan(1e-5), names[i]);
    }

    /// <summary>
    /// The reductions over patches run in parts (<see cref="MaMA.Kernels.Reduction.Runs"/>:
    /// 5 runs of 26 at P = 130). Every patch here is one of three vectors, so each maximum over
    /// patches is tied across all parts: the selected patch, which the patch gradient shows, must
    /// be the first one in every form, as the CPU's single scan keeps it.
    /// </summary>
    [TestCase(GemmForm.Gemm)]
    [TestCase(GemmForm.Kernels)]
    public void PartedReductions_KeepTheFirstPatchOnTies(GemmForm form)
    {
        const int n = 3, p = 130, e = 12;
        Assert.That(MaMA.Kernels.Reduction.Runs.For(p), Is.EqualTo(5));
        long[] offsets = [0, 2, 3, 6];
        int r = (int)offsets[n];
        var rng = new Random(5);
        float[][] pool = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, e).Select(_ => OpData.Normal(rng)).ToArray()).ToArray();
        // Image i's patch pp is pool vector (pp + i) % 3, so each vector first appears in the first part.
        float[] patchValues = Enumerable.Range(0, n * p).SelectMany(k => pool[(k % p + k / p) % 3]).ToArray();
        float[] sentenceValues = Enumerable.Range(0, r * e).Select(_ => OpData.Normal(rng)).ToArray();
        float[][] Scores(Device device)
        {
            Tensor patches = Tensor.FromArray(patchValues, [n, p, e], device), sentences = Tensor.FromArray(sentenceValues, [r, e], device);
            patches.RequiresGrad = sentences.RequiresGrad = true;
            SymmetricLocalAlignmentResult result = SlaLosses.SymmetricLocalAlignment(patches, sentences, Tensor.FromArray(offsets, [n + 1], device),
                Tensor.Scalar(0.5f, device));
            Engine.Ops.Add(Engine.Ops.Sum(result.T2I), Engine.Ops.Sum(result.I2T)).Backward();
            return [result.T2I.ToFloatArray(), result.I2T.ToFloatArray(), patches.Grad!.ToFloatArray(), sentences.Grad!.ToFloatArray()];
        }
        float[][] cpu = Scores(Device.Cpu);
        SlaLosses.LocalAlignment = form;
        float[][] sim = Scores(Simulator);
        string[] names = ["t2i", "i2t", "grad_patches", "grad_sentences"];
        for (int i = 0; i < names.Length; i++)
            Assert.That(OpResult.RelativeError(sim[i], cpu[i]), Is.LessThan(1e-5), names[i]);
        // Element by element: t2i's gradient must land on the same (first) patches as the CPU's.
        for (int k = 0; k < cpu[2].Length; k++)
            Assert.That(sim[2][k], Is.EqualTo(cpu[2][k]).Within(1e-5f), $"grad_patches image {k / e / p} patch {k / e % p}");
    }

    private static float[][] Run(int n, int p, int e) => Run(n, p, e, Simulator, bf16: false);

    /// <summary>Losses, scores and gradients; with <paramref name="bf16"/> the normalised embeddings reach SLA as recorded bf16 casts (as under autocast).</summary>
    private static float[][] Run(int n, int p, int e, Device device, bool bf16)
    {
        int[] counts = Enumerable.Range(0, n).Select(m => 1 + m * 5 % 12).ToArray();
        long[] offsets = new long[n + 1];
        for (int m = 0; m < n; m++) offsets[m + 1] = offsets[m] + counts[m];
        int r = (int)offsets[n];
        var rng = new Random(n * 1000 + p * 10 + e);
        Tensor patches = Tensor.FromArray(Enumerable.Range(0, n * p * e).Select(_ => OpData.Normal(rng)).ToArray(), [n, p, e], device);
        Tensor sentences = Tensor.FromArray(Enumerable.Range(0, r * e).Select(_ => OpData.Normal(rng)).ToArray(), [r, e], device);
        Tensor scale = Tensor.Scalar(MathF.Log(10f), device);
        patches.RequiresGrad = sentences.RequiresGrad = scale.RequiresGrad = true;
        Tensor pn = Engine.Ops.L2Normalize(patches), sn = Engine.Ops.L2Normalize(sentences);
        if (bf16)
        {
            pn = pn.To(DType.BFloat16);
            sn = sn.To(DType.BFloat16);
        }
        SymmetricLocalAlignmentResult result = SlaLosses.SymmetricLocalAlignment(pn, sn, Tensor.FromArray(offsets, [n + 1], device), scale);
        // One objective that reaches every output: both losses and a weighted sum of both score matrices.
        Tensor weights = Tensor.FromArray(Enumerable.Range(0, n * n).Select(_ => OpData.Normal(rng)).ToArray(), [n, n], device);
        Tensor objective = Engine.Ops.Add(Engine.Ops.Add(result.LossT2I, result.LossI2T),
            Engine.Ops.Sum(Engine.Ops.Mul(Engine.Ops.Add(result.T2I, result.I2T), weights)));
        objective.Backward();
        return [result.LossT2I.ToFloatArray(), result.LossI2T.ToFloatArray(), result.T2I.ToFloatArray(), result.I2T.ToFloatArray(),
            patches.Grad!.ToFloatArray(), sentences.Grad!.ToFloatArray(), scale.Grad!.ToFloatArray()];
    }
}
