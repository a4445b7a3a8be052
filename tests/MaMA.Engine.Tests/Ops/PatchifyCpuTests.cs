using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The fast CPU im2col / col2im (<c>PatchifyCpu</c>, block copies of kernel rows) against the
/// generated per-element kernels on the ILGPU simulator: the same values bit for bit (both are pure
/// copies), forward and backward, with several channels, a batch, and images whose last rows and
/// columns do not fill a patch (their gradient is 0).
/// </summary>
[TestFixture]
public sealed class PatchifyCpuTests
{
    [TestCase(2, 3, 28, 28, 14)]
    [TestCase(1, 2, 10, 13, 4)]
    [TestCase(3, 1, 70, 71, 7)]
    public void FastCpuEqualsTheGeneratedKernels(int b, int cin, int h, int w, int patch)
    {
        var rng = new Random(b * 100 + h);
        float[] x = Enumerable.Range(0, b * cin * h * w).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        int gh = h / patch, gw = w / patch;
        float[] dcols = Enumerable.Range(0, b * gh * gw * cin * patch * patch).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        (float[] Cols, float[] Dx) Run(Device d)
        {
            Tensor t = Tensor.FromArray(x, [b, cin, h, w], d);
            t.RequiresGrad = true;
            Tensor cols = EngineOps.Patchify(t, patch);
            cols.Backward(Tensor.FromArray(dcols, cols.ShapeArray, d));
            return (cols.ToFloatArray(), t.Grad!.ToFloatArray());
        }
        var cpu = Run(Device.Cpu);
        var sim = Run(Device.Parse("ilgpu-cpu"));
        Assert.That(cpu.Cols, Is.EqualTo(sim.Cols), "im2col");
        Assert.That(cpu.Dx, Is.EqualTo(sim.Dx), "col2im");
        if (gh * patch < h) Assert.That(cpu.Dx[(h - 1) * w], Is.EqualTo(0f), "a pixel below the last patch row gets no gradient");
    }
}
