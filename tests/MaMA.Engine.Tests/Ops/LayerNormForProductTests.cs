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

        Run fused = Forward(device, x, w, b, g, autocast, (xx, ww, bb) => EngineOps.LayerNorm(xx, ww, bb, 1e-6f, forProduct: true));
        Run plain = Forward(device, x, w, b, g, autocast, (xx, ww, bb) =>
        {
            Tensor y = EngineOps.LayerNorm(xx, ww, bb, 1e-6f);
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
        long before = device.AllocatedBytes;
        Tensor y;
        using (Autocast.Bf16()) y = EngineOps.LayerNorm(x, null, null, 1e-6f, forProduct: true);
        Assert.That(device.AllocatedBytes - before, Is.EqualTo(128 * 256 * 2 + 2 * 512));
        Assert.That(y.DType, Is.EqualTo(DType.BFloat16));
    }

    private sealed record Run(DType DType, float[] Output, float[][] Grads);

    /// <summary>x = 1.25 leaf (a graph activation); loss = sum(out * g).</summary>
    private static Run Forward(Device device, float[] x, float[] w, float[] b, float[] g, bool autocast, Func<Tensor, Tensor, Tensor, Tensor> f)
    {
        Tensor[] leaves = [Tensor.FromArray(x, [Rows, C], device), Tensor.FromArray(w, [C], device), Tensor.FromArray(b, [C], device)];
        foreach (Tensor l in leaves) l.RequiresGrad = true;
        using Tensor weights = Tensor.FromArray(g, [Rows, C], device);
        Tensor o;
        using (autocast ? Autocast.Bf16() : null)
        {
            o = f(EngineOps.Scale(leaves[0], 1.25f), leaves[1], leaves[2]);
            EngineOps.Sum(EngineOps.Mul(o, weights)).Backward();
        }
        var run = new Run(o.DType, o.ToFloatArray(), leaves.Select(l => l.Grad!.ToArray<float>()).ToArray());
        foreach (Tensor l in leaves) l.Dispose();
        return run;
    }
}
