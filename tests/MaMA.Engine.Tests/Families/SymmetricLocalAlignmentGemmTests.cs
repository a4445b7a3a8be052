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
/// in chunks with a short last one, and one image at a time.
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
        SlaLosses.SlaChunkElements = 2L << 20;
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

    private static float[][] Run(int n, int p, int e)
    {
        int[] counts = Enumerable.Range(0, n).Select(m => 1 + m * 5 % 12).ToArray();
        long[] offsets = new long[n + 1];
        for (int m = 0; m < n; m++) offsets[m + 1] = offsets[m] + counts[m];
        int r = (int)offsets[n];
        var rng = new Random(n * 1000 + p * 10 + e);
        Tensor patches = Tensor.FromArray(Enumerable.Range(0, n * p * e).Select(_ => OpData.Normal(rng)).ToArray(), [n, p, e], Simulator);
        Tensor sentences = Tensor.FromArray(Enumerable.Range(0, r * e).Select(_ => OpData.Normal(rng)).ToArray(), [r, e], Simulator);
        Tensor scale = Tensor.Scalar(MathF.Log(10f), Simulator);
        patches.RequiresGrad = sentences.RequiresGrad = scale.RequiresGrad = true;
        SymmetricLocalAlignmentResult result = SlaLosses.SymmetricLocalAlignment(Engine.Ops.L2Normalize(patches), Engine.Ops.L2Normalize(sentences),
            Tensor.FromArray(offsets, [n + 1], Simulator), scale);
        // One objective that reaches every output: both losses and a weighted sum of both score matrices.
        Tensor weights = Tensor.FromArray(Enumerable.Range(0, n * n).Select(_ => OpData.Normal(rng)).ToArray(), [n, n], Simulator);
        Tensor objective = Engine.Ops.Add(Engine.Ops.Add(result.LossT2I, result.LossI2T),
            Engine.Ops.Sum(Engine.Ops.Mul(Engine.Ops.Add(result.T2I, result.I2T), weights)));
        objective.Backward();
        return [result.LossT2I.ToFloatArray(), result.LossI2T.ToFloatArray(), result.T2I.ToFloatArray(), result.I2T.ToFloatArray(),
            patches.Grad!.ToFloatArray(), sentences.Grad!.ToFloatArray(), scale.Grad!.ToFloatArray()];
    }
}
