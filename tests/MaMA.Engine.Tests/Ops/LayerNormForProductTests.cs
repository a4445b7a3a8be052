using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Layer norm for a product (<c>Ops.LayerNorm(..., forProduct: true)</c>): inside a bf16 autocast
/// scope its output is bf16, bit for bit the cast a product would make of the fp32 output, with the
/// same gradients and no fp32 output left behind; outside a scope nothing changes. On the fast CPU
/// backend and both row forms of the simulator (the warp form is what CUDA runs; it rounds in the
/// kernel).
/// </summary>
[TestFixture]
[NonParallelizable] // switches Ops.LayerNormForm and reads the allocator counters
public sealed class LayerNormForProductTests
{
    private const int Rows = 9, C = 70;

    [TearDown]
    public void Restore() => EngineOps.LayerNormForm = RowForm.Auto;

    [TestCase("cpu", RowForm.Auto, true)]
    [TestCase("cpu", RowForm.Auto, false)]
    [TestCase("ilgpu-cpu", RowForm.Thread, true)]
    [TestCase("ilgpu-cpu", RowForm.Warp, true)]
    [TestCase("ilgpu-cpu", RowForm.Warp, false)]
    public void EqualsTheCastOfTheFp32OutputBitForBit(string deviceName, RowForm form, bool autocast)
    {
        EngineOps.LayerNormForm = form;
        Device device = Device.Parse(deviceName);
        var rng = new Random(7);
        float[] Draw(int n, float offset) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2) + offset).ToArray();
        float[] x = Draw(Rows * C, 3f), w = Draw(C, 1f), b = Draw(C, 0f), g = Draw(Rows * C, 0f);

        (float[], int[])[] inputs = [(x, [Rows, C]), (w, [C]), (b, [C])];
        FusionHarness.Result fused = FusionHarness.Run(device, autocast, inputs, 1, 1.25f, (g, [Rows, C]),
            t => EngineOps.LayerNorm(t[0], t[1], t[2], 1e-6f, forProduct: true));
        FusionHarness.Result plain = FusionHarness.Run(device, autocast, inputs, 1, 1.25f, (g, [Rows, C]), t =>
        {
            Tensor y = EngineOps.LayerNorm(t[0], t[1], t[2], 1e-6f);
            return autocast ? EngineOps.Cast(y, DType.BFloat16) : y;
        });

        Assert.That(fused.DType, Is.EqualTo(autocast ? DType.BFloat16 : DType.Float32));
        Assert.That(fused.Output, Is.EqualTo(plain.Output), "output");
        for (int i = 0; i < 3; i++) Assert.That(fused.Grads[i], Is.EqualTo(plain.Grads[i]), $"gradient {i} (x, weight, bias)");
    }

    [TestCase("cpu", RowForm.Auto)]
    [TestCase("ilgpu-cpu", RowForm.Warp)]
    public void UnderAutocastKeepsNoFp32Output(string deviceName, RowForm form)
    {
        // x [128, 256] fp32: the bf16 output is 64 KiB, mean and rstd 512 B each (the backward's).
        EngineOps.LayerNormForm = form;
        Device device = Device.Parse(deviceName);
        using Tensor leaf = Tensor.FromArray(Enumerable.Range(0, 128 * 256).Select(i => (float)Math.Sin(i)).ToArray(), [128, 256], device);
        leaf.RequiresGrad = true;
        Tensor x = EngineOps.Scale(leaf, 1f);
        FusionHarness.Settle();
        long before = device.AllocatedBytes;
        Tensor y;
        using (Autocast.Bf16()) y = EngineOps.LayerNorm(x, null, null, 1e-6f, forProduct: true);
        Assert.That(device.AllocatedBytes - before, Is.EqualTo(128 * 256 * 2 + 2 * 512));
        Assert.That(y.DType, Is.EqualTo(DType.BFloat16));
    }
}
