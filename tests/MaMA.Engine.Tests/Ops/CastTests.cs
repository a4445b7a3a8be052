using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Casting strided views: bit-equal results on the fast CPU backend and the ILGPU simulator, and
/// no fp32 copy of the view left behind (on accelerators an fp32 view narrowed to bf16, which is
/// what autocast does to attention's q, k, v, is read in place by one kernel; elsewhere the
/// temporary contiguous copy is freed before the cast returns).
/// </summary>
[TestFixture]
[NonParallelizable] // reads the devices' allocator peaks
public sealed class CastTests
{
    [TestCase("cpu", DType.BFloat16)]
    [TestCase("ilgpu-cpu", DType.BFloat16)]
    [TestCase("cpu", DType.Float16)]
    [TestCase("ilgpu-cpu", DType.Float16)]
    public void StridedViewCastsLikeItsContiguousCopyAndKeepsNoCopy(string deviceName, DType dtype)
    {
        Device device = Device.Parse(deviceName);
        var rng = new Random(5);
        float[] values = Enumerable.Range(0, 6 * 40 * 70).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        using Tensor x = Tensor.FromArray(values, [6, 40, 70], device);
        // A permuted, narrowed view: q of a [B, T, 3, H, D]-style split has the same kind of strides.
        Tensor view = x.Permute(2, 0, 1).Narrow(1, 1, 4);
        long outputBytes = view.Numel * dtype.Size();

        long before = device.AllocatedBytes;
        device.ResetPeakAllocatedBytes();
        Tensor y = EngineOps.Cast(view, dtype);
        long kept = device.AllocatedBytes - before, peak = device.PeakAllocatedBytes - before;

        Assert.That(y.IsContiguous, Is.True);
        Assert.That(y.ShapeArray, Is.EqualTo(view.ShapeArray));
        using Tensor reference = EngineOps.Cast(view.Contiguous(), dtype);
        Assert.That(y.ToFloatArray(), Is.EqualTo(reference.ToFloatArray()), "same values (widening is exact) as casting the contiguous copy");
        Assert.That(kept, Is.LessThanOrEqualTo(RoundUp(outputBytes)), "only the output stays allocated");
        TestContext.Out.WriteLine($"{deviceName} {dtype}: kept {kept} B, peak {peak} B over the input; output {outputBytes} B, fp32 copy {view.Numel * 4} B");
        if (!device.IsCpu && dtype == DType.BFloat16)
            Assert.That(peak, Is.LessThan(view.Numel * 4), "the fp32 -> bf16 cast of a view on an accelerator makes no fp32 copy");
    }

    [Test]
    public void IntegerCastsSkipTheFloatStepAndStayExact()
    {
        // 2^53 + 1 is not representable in fp32: a detour through fp32 would change it.
        long big = (1L << 53) + 1;
        foreach (string name in new[] { "cpu", "ilgpu-cpu" })
        {
            Device device = Device.Parse(name);
            using Tensor ids = Tensor.FromArray(new long[] { big, -3, 7 }, [3], device);
            using Tensor narrow = EngineOps.Cast(ids, DType.Int32);
            Assert.That(narrow.ToArray<int>(), Is.EqualTo(new[] { unchecked((int)big), -3, 7 }), name);
            using Tensor wide = EngineOps.Cast(narrow, DType.Int64);
            Assert.That(wide.ToArray<long>(), Is.EqualTo(new long[] { unchecked((int)big), -3, 7 }), name);
        }
    }

    /// <summary>The allocator's block size for a request (it rounds up; a generous bound).</summary>
    private static long RoundUp(long bytes) => Math.Max(512, bytes * 2);
}
