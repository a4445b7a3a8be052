using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// The GEMM form of lora_linear (what CUDA with cuBLAS runs: x W and the rank-r products as GEMMs,
/// dropout(x) materialised for them), on the ILGPU CPU simulator with the generated GEMM: output and
/// every gradient equal the per-output kernels' (themselves checked against libtorch), for both weight
/// layouts, with and without bias, with dropout off and on (the same Philox mask), at odd sizes; and
/// with bf16 x and W, where the tensor-core forward takes u = dropout(x) A^T as a GEMM in the GEMM form;
/// and with A and B in bf16 as well (autocast), where that GEMM is a bf16 one on x as it lies, the
/// mask's scale in its alpha.
/// </summary>
[TestFixture]
[NonParallelizable]  // switches a process-wide setting of Ops
public sealed class LoraGemmFormTests
{
    private static Device Simulator => Device.Parse("ilgpu-cpu");

    /// <summary>fp32 and bf16 GEMMs the last <see cref="Run"/>'s forward ran (the fused tensor-core x W is neither).</summary>
    private static long _forwardGemms, _forwardBf16Gemms;

    [TearDown]
    public void Restore() => EngineOps.LoraLinearForm = GemmForm.Auto;

    [TestCase(WeightLayout.Conv1D, true, 0f, TestName = "LoraGemm_Conv1D_Bias_NoDropout")]
    [TestCase(WeightLayout.Linear, false, 0f, TestName = "LoraGemm_Linear_NoBias_NoDropout")]
    [TestCase(WeightLayout.Conv1D, true, 0.25f, TestName = "LoraGemm_Conv1D_Bias_Dropout")]
    [TestCase(WeightLayout.Linear, true, 0.25f, TestName = "LoraGemm_Linear_Bias_Dropout")]
    [TestCase(WeightLayout.Conv1D, true, 0.25f, true, TestName = "LoraGemm_Bf16_Conv1D_Bias_Dropout")]
    [TestCase(WeightLayout.Linear, false, 0f, true, TestName = "LoraGemm_Bf16_Linear_NoBias_NoDropout")]
    [TestCase(WeightLayout.Conv1D, true, 0.25f, true, true, TestName = "LoraGemm_Bf16Factors_Conv1D_Bias_Dropout")]
    [TestCase(WeightLayout.Linear, false, 0f, true, true, TestName = "LoraGemm_Bf16Factors_Linear_NoBias_NoDropout")]
    public void GemmForm_EqualsTheKernels(WeightLayout layout, bool withBias, float dropout, bool bf16 = false, bool factors16 = false)
    {
        EngineOps.LoraLinearForm = GemmForm.Kernels;
        long before = DeviceGemm.Calls;
        float[][] kernels = Run(layout, withBias, dropout, bf16, factors16);
        Assert.That(DeviceGemm.Calls, Is.EqualTo(before), "the per-row kernels ran no fp32 GEMM");
        EngineOps.LoraLinearForm = GemmForm.Gemm;
        before = DeviceGemm.Calls;
        float[][] gemm = Run(layout, withBias, dropout, bf16, factors16);
        // The forward's GEMMs: u = dropout(x) A^T (bf16 when x and A are), and x W unless it is the
        // fused bf16 tensor-core GEMM.
        Assert.That(_forwardGemms, Is.EqualTo(factors16 ? 0 : bf16 ? 1 : 2), "fp32 forward GEMMs");
        Assert.That(_forwardBf16Gemms, Is.EqualTo(factors16 ? 1 : 0), "bf16 forward GEMMs");
        Assert.That(DeviceGemm.Calls, Is.GreaterThan(before), "the GEMM form ran its GEMMs");

        string[] names = ["out", "grad_x", "grad_lora_a", "grad_lora_b", "grad_bias"];
        for (int i = 0; i < kernels.Length; i++)
            Assert.That(OpResult.RelativeError(gemm[i], kernels[i]), Is.LessThan(1e-5), names[i]);
        if (dropout > 0f)
        {
            // The mask was applied: without dropout the output is another one.
            float[] undropped = Run(layout, withBias, 0f, bf16, factors16)[0];
            Assert.That(OpResult.RelativeError(gemm[0], undropped), Is.GreaterThan(1e-3), "dropout changed nothing");
        }
    }

    /// <summary>
    /// Output and gradients; with <paramref name="bf16"/>, x and W reach the op as bf16 (x through a
    /// recorded cast, so its gradient is fp32), with <paramref name="factors16"/> A and B too.
    /// </summary>
    private static float[][] Run(WeightLayout layout, bool withBias, float dropout, bool bf16, bool factors16 = false)
    {
        const int m = 13, inF = 37, outF = 29, r = 4;
        var rng = new Random(11);
        Tensor Make(int[] shape, bool grad)
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            Tensor t = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => OpData.Normal(rng)).ToArray(), shape, Simulator);
            t.RequiresGrad = grad;
            return t;
        }
        Tensor x = Make([m, inF], true);
        Tensor w = Make(layout == WeightLayout.Conv1D ? [inF, outF] : [outF, inF], false);
        Tensor? bias = withBias ? Make([outF], true) : null;
        Tensor a = Make([r, inF], true), b = Make([outF, r], true);
        Tensor dy = Make([m, outF], false);
        Tensor xin = bf16 ? x.To(DType.BFloat16) : x, win = bf16 ? w.To(DType.BFloat16) : w;
        Tensor ain = factors16 ? a.To(DType.BFloat16) : a, bin = factors16 ? b.To(DType.BFloat16) : b;
        long before = DeviceGemm.Calls, before16 = DeviceGemm.Bf16Calls;
        Tensor y = EngineOps.LoraLinear(xin, win, bias, ain, bin, 2.5f, layout, dropout, seed: 7, offset: 3, training: dropout > 0f);
        _forwardGemms = DeviceGemm.Calls - before;
        _forwardBf16Gemms = DeviceGemm.Bf16Calls - before16;
        y.Backward(dy);
        var result = new List<float[]> { y.ToFloatArray(), x.Grad!.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray() };
        if (bias is not null) result.Add(bias.Grad!.ToFloatArray());
        return [.. result];
    }
}
