using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Layer norm with one warp per row (what CUDA runs, <see cref="RowForm.Auto"/>) on the ILGPU
/// simulator's 32-lane companion, against the fast CPU backend: output, input gradient and the
/// weight / bias gradients, with and without the affine parameters, for row lengths below, at
/// and above a multiple of 32 (the lanes' strided loops) and row counts that leave the last group's
/// warps idle. The two forms differ only in summation order: ~1e-7 relative.
/// </summary>
[TestFixture]
[NonParallelizable]  // switches a process-wide setting of Ops
public sealed class LayerNormWarpTests
{
    private static Device Sim => Device.Parse("ilgpu-cpu");

    [TearDown]
    public void Restore() => EngineOps.LayerNormForm = RowForm.Auto;

    [TestCase(13, 768, true)]
    [TestCase(3, 37, true)]
    [TestCase(9, 64, false)]
    [TestCase(1, 5, true)]
    public void WarpRows_MatchTheCpu(int rows, int c, bool affine)
    {
        EngineOps.LayerNormForm = RowForm.Warp;
        long before = MaMA.Kernels.Normalization.LayerNormWarp.Launches;
        float[][] warp = Run(Sim, rows, c, affine);
        Assert.That(MaMA.Kernels.Normalization.LayerNormWarp.Launches - before, Is.EqualTo(2), "the warp kernels ran: forward and input gradient");
        float[][] cpu = Run(Device.Cpu, rows, c, affine);
        string[] names = ["y", "dx", "dweight", "dbias"];
        for (int i = 0; i < warp.Length; i++)
        {
            double err = OpResult.RelativeError(warp[i], cpu[i]);
            TestContext.Out.WriteLine($"{names[i]}: {err:E2}");
            Assert.That(err, Is.LessThan(1e-5), names[i]);
        }
    }

    [Test]
    public void Auto_IsTheThreadKernelOffCuda_AndWarpRunsOnlyWhenAsked()
    {
        // Both forms agree up to summation order; the simulator's Auto (no CUDA stream) is the
        // generated thread-per-row kernel, bit for bit, and launches no warp kernel.
        EngineOps.LayerNormForm = RowForm.Auto;
        long before = MaMA.Kernels.Normalization.LayerNormWarp.Launches;
        float[] auto = Run(Sim, 5, 100, true)[0];
        Assert.That(MaMA.Kernels.Normalization.LayerNormWarp.Launches, Is.EqualTo(before), "Auto off CUDA launched a warp kernel");
        EngineOps.LayerNormForm = RowForm.Thread;
        float[] thread = Run(Sim, 5, 100, true)[0];
        Assert.That(auto, Is.EqualTo(thread), "Auto off CUDA is the thread-per-row kernel, bit for bit");
        EngineOps.LayerNormForm = RowForm.Warp;
        Assert.That(OpResult.RelativeError(Run(Sim, 5, 100, true)[0], thread), Is.LessThan(1e-6));
    }

    private static float[][] Run(Device device, int rows, int c, bool affine)
    {
        var rng = new Random(rows * 1000 + c);
        Tensor Make(int[] shape, double offset, bool grad)
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            // An offset mean, as activations have: the two-pass variance must not cancel.
            Tensor t = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (float)(offset + rng.NextDouble() * 2 - 1)).ToArray(), shape, device);
            t.RequiresGrad = grad;
            return t;
        }
        Tensor x = Make([rows, c], 3.0, true);
        Tensor? w = affine ? Make([c], 1.0, true) : null, b = affine ? Make([c], 0.0, true) : null;
        Tensor dy = Make([rows, c], 0.0, false);
        Tensor y = EngineOps.LayerNorm(x, w, b, 1e-6f);
        y.Backward(dy);
        return affine
            ? [y.ToFloatArray(), x.Grad!.ToFloatArray(), w!.Grad!.ToFloatArray(), b!.Grad!.ToFloatArray()]
            : [y.ToFloatArray(), x.Grad!.ToFloatArray()];
    }
}
