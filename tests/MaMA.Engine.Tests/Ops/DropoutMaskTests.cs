using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Random;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// <see cref="DropoutMask"/>, the kernels' mask parameter, is the mask of <see cref="EngineOps.Dropout"/>
/// and of the CPU's <see cref="PhiloxDropout"/> element for element, and its block-wise queries (which
/// the tensor-core attention kernels use to share Philox blocks between lanes) agree with the
/// element-wise one, including pairs that straddle two blocks and a base that is not a multiple of 4.
/// </summary>
[TestFixture]
public sealed class DropoutMaskTests
{
    private const int N = 203;

    [TestCase(0L)]
    [TestCase(7L)]
    public void ElementsEqualOpsDropoutAndTheCpuMask(long elementBase)
    {
        DropoutMask mask = DropoutMask.Create(0.3f, seed: 0xABCDEF12345UL, offset: 9, elementBase);
        float[] ones = Enumerable.Repeat(1f, N).ToArray();
        float[] op = EngineOps.Dropout(Tensor.FromArray(ones, [N]), 0.3f, 0xABCDEF12345UL, 9, training: true, elementBase).ToFloatArray();
        var cpu = new PhiloxDropout(0.3f, 0xABCDEF12345UL, 9, elementBase);
        float[] filled = new float[N];
        unsafe
        {
            fixed (float* f = filled) cpu.Fill(0, N, f);
        }
        Assert.That(cpu.ForKernels, Is.EqualTo(mask));
        for (int e = 0; e < N; e++)
        {
            Assert.That(mask.Factor(e), Is.EqualTo(op[e]), $"Ops.Dropout, element {e}");
            Assert.That(mask.Factor(e), Is.EqualTo(filled[e]), $"PhiloxDropout.Fill, element {e}");
            Assert.That(mask.Keeps(e), Is.EqualTo(op[e] != 0f), $"Keeps, element {e}");
        }
        Assert.That(op.Count(v => v == 0f), Is.InRange(30, 100), "about p of 203 dropped");
    }

    [TestCase(0L)]
    [TestCase(7L)]
    public void PairsAndBlocksAgreeWithElements(long elementBase)
    {
        DropoutMask mask = DropoutMask.Create(0.5f, seed: 77, offset: 1, elementBase);
        for (int e = 0; e < N; e++)
        {
            int pair = mask.KeepsPair(e);
            Assert.That((pair & 1) != 0, Is.EqualTo(mask.Keeps(e)), $"pair at {e}, first");
            Assert.That((pair & 2) != 0, Is.EqualTo(mask.Keeps(e + 1)), $"pair at {e}, second");
            // The block holding element e covers batch indices 4 ((base + e) / 4) + w.
            int block = mask.KeepsBlock(e);
            long first = (elementBase + e) / 4 * 4 - elementBase;
            for (int w = 0; w < 4; w++)
                Assert.That((block >> w & 1) != 0, Is.EqualTo(mask.Keeps(first + w)), $"block of {e}, word {w}");
        }
        Assert.That(mask.RowsAligned(144), Is.EqualTo(elementBase % 4 == 0));
        Assert.That(mask.RowsAligned(13), Is.False);
    }

    [Test]
    public void OffKeepsEverythingAtFactorOne()
    {
        DropoutMask off = DropoutMask.Off;
        Assert.That(off.Active, Is.False);
        Assert.That((off.Factor(5), off.Keeps(5), off.KeepsPair(3), off.KeepsBlock(3)), Is.EqualTo((1f, true, 3, 15)));
        Assert.That(PhiloxDropout.Off.ForKernels, Is.EqualTo(off));
        Assert.That(() => DropoutMask.Create(1f, 0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
