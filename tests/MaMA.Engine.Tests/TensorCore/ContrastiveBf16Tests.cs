using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineLosses = MaMA.Engine.Losses.Losses;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The contrastive losses under bf16 autocast: on the tensor-core devices their similarity GEMMs
/// are bf16 GEMMs (CLIP one; NT-Xent its three blocks, over the embeddings normalised in fp32 and
/// then rounded), and the loss and the gradients of the fp32 inputs equal the CPU's fp32 arithmetic
/// on the same bf16 values.
/// </summary>
[TestFixture]
public sealed class ContrastiveBf16Tests
{
    private const int N = 19, E = 40;

    private static Device Sim => Device.Parse("ilgpu-cpu");

    private static double Rel(float[] actual, float[] expected) => RelativeError(actual, expected.Select(v => (double)v).ToArray());

    [TestCase("clip", 1)]
    [TestCase("ntxent", 3)]
    public void Autocast_RunsBf16Gemms_AndMatchesTheCpu(string loss, int gemms)
    {
        float[] av = Floats(N * E, seed: 41), bv = Floats(N * E, seed: 42);
        float[][] Run(Device d)
        {
            Tensor a = Tensor.FromArray(av, [N, E], d), b = Tensor.FromArray(bv, [N, E], d);
            a.RequiresGrad = b.RequiresGrad = true;
            using (Autocast.Bf16())
            {
                Tensor value = loss == "clip"
                    ? EngineLosses.ClipLoss(EngineOps.L2Normalize(a), EngineOps.L2Normalize(b), Tensor.Scalar(MathF.Log(1 / 0.07f), d))
                    : EngineLosses.InterViewContrast(a, b, 0.5f);
                value.Backward();
                return [value.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray()];
            }
        }

        long before = DeviceGemm.Bf16Calls;
        float[][] sim = Run(Sim);
        Assert.That(DeviceGemm.Bf16Calls - before, Is.EqualTo(gemms), "the similarity GEMMs on the tensor cores");
        float[][] cpu = Run(Device.Cpu);
        string[] names = ["loss", "grad_a", "grad_b"];
        for (int i = 0; i < names.Length; i++)
            Assert.That(Rel(sim[i], cpu[i]), Is.LessThan(1e-5), names[i]);
    }
}
