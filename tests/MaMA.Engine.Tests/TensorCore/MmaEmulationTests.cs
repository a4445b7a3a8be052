using ILGPU;
using ILGPU.Runtime;
using MaMA.Engine.Devices;
using MaMA.Kernels.TensorCore;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The warp-level MMA on the ILGPU CPU simulator (its 32-lane companion): one warp per 16x16x8
/// tile loads its fragments from memory exactly per the ISA layout, calls <see cref="Mma.MmaBf16"/>
/// (the shuffle emulation here, mma.sync on CUDA) and stores D per the layout; D must equal
/// A B + C computed plainly, for many random tiles.
/// </summary>
[TestFixture]
public sealed class MmaEmulationTests
{
    private const int Tiles = 48;

    /// <summary>Tile z = Grid.IdxX: a [z][16][16], b [z][16 (k)][8 (n)], c and d [z][16][8], row-major, bf16 bits for a and b.</summary>
    private static void TileKernel(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, ArrayView<float> d)
    {
        ArrayView<uint> scratch = SharedMemory.Allocate<uint>(Mma.ScratchWordsPerWarp); // one warp per group
        int lane = Warp.LaneIdx, z = Grid.IdxX;
        int aBase = z * 256, bBase = z * 128, cBase = z * 128;
        FragA fa;
        fa.R0 = Bf16.Pack(a[aBase + MmaLayout.ARow(lane, 0) * 16 + MmaLayout.ACol(lane, 0)], a[aBase + MmaLayout.ARow(lane, 1) * 16 + MmaLayout.ACol(lane, 1)]);
        fa.R1 = Bf16.Pack(a[aBase + MmaLayout.ARow(lane, 2) * 16 + MmaLayout.ACol(lane, 2)], a[aBase + MmaLayout.ARow(lane, 3) * 16 + MmaLayout.ACol(lane, 3)]);
        fa.R2 = Bf16.Pack(a[aBase + MmaLayout.ARow(lane, 4) * 16 + MmaLayout.ACol(lane, 4)], a[aBase + MmaLayout.ARow(lane, 5) * 16 + MmaLayout.ACol(lane, 5)]);
        fa.R3 = Bf16.Pack(a[aBase + MmaLayout.ARow(lane, 6) * 16 + MmaLayout.ACol(lane, 6)], a[aBase + MmaLayout.ARow(lane, 7) * 16 + MmaLayout.ACol(lane, 7)]);
        FragB fb;
        fb.R0 = Bf16.Pack(b[bBase + MmaLayout.BRow(lane, 0) * 8 + MmaLayout.BCol(lane, 0)], b[bBase + MmaLayout.BRow(lane, 1) * 8 + MmaLayout.BCol(lane, 1)]);
        fb.R1 = Bf16.Pack(b[bBase + MmaLayout.BRow(lane, 2) * 8 + MmaLayout.BCol(lane, 2)], b[bBase + MmaLayout.BRow(lane, 3) * 8 + MmaLayout.BCol(lane, 3)]);
        FragC acc;
        acc.C0 = c[cBase + MmaLayout.CRow(lane, 0) * 8 + MmaLayout.CCol(lane, 0)];
        acc.C1 = c[cBase + MmaLayout.CRow(lane, 1) * 8 + MmaLayout.CCol(lane, 1)];
        acc.C2 = c[cBase + MmaLayout.CRow(lane, 2) * 8 + MmaLayout.CCol(lane, 2)];
        acc.C3 = c[cBase + MmaLayout.CRow(lane, 3) * 8 + MmaLayout.CCol(lane, 3)];
        Mma.MmaBf16(ref acc, fa, fb, scratch);
        d[cBase + MmaLayout.CRow(lane, 0) * 8 + MmaLayout.CCol(lane, 0)] = acc.C0;
        d[cBase + MmaLayout.CRow(lane, 1) * 8 + MmaLayout.CCol(lane, 1)] = acc.C1;
        d[cBase + MmaLayout.CRow(lane, 2) * 8 + MmaLayout.CCol(lane, 2)] = acc.C2;
        d[cBase + MmaLayout.CRow(lane, 3) * 8 + MmaLayout.CCol(lane, 3)] = acc.C3;
    }

    private static Accelerator Simulator() => WarpSimulator.For(((IlgpuDevice)Devices.Device.Parse("ilgpu-cpu")).Accelerator);

    [Test]
    public void Simulator_HasThirtyTwoLaneWarps()
    {
        Accelerator sim = Simulator();
        Assert.That(sim.WarpSize, Is.EqualTo(32));
        Assert.That(sim.MaxNumThreadsPerGroup, Is.GreaterThanOrEqualTo(TensorCoreGemm.Threads));
        Assert.That(WarpSimulator.For(sim), Is.SameAs(sim));
    }

    [Test]
    public void EmulatedMma_EqualsPlainMatmul_ForManyTiles()
    {
        ushort[] a = Bf16Values(Tiles * 256, seed: 1), b = Bf16Values(Tiles * 128, seed: 2);
        float[] c = Floats(Tiles * 128, seed: 3);
        Accelerator sim = Simulator();
        using var da = sim.Allocate1D(a);
        using var db = sim.Allocate1D(b);
        using var dc = sim.Allocate1D(c);
        using var dd = sim.Allocate1D<float>(c.Length);
        var kernel = sim.LoadKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>>(TileKernel);
        kernel(sim.DefaultStream, new KernelConfig(Tiles, MmaLayout.WarpSize), da.View, db.View, dc.View, dd.View);
        sim.Synchronize();
        float[] d = dd.GetAsArray1D();

        var p = new GemmArgs { M = 16, N = 8, K = 16, Batch = Tiles, ABatch = 256, ARow = 16, ACol = 1, BBatch = 128, BRow = 8, BCol = 1, CBatch = 128, Ldc = 8, Alpha = 1f, Beta = 1f };
        double[] expected = Reference(a, b, c, p);
        for (int i = 0; i < d.Length; i++)
            Assert.That(d[i], Is.EqualTo(expected[i]).Within(1e-5 * (1 + Math.Abs(expected[i]))), $"tile {i / 128}, ({i % 128 / 8}, {i % 8})");
    }

    [Test]
    public void EmulatedMma_PlacesEveryElement()
    {
        // One-hot A and B: D(r, n) = A(r, k) B(k, n) picks out exactly one product, so a swapped row,
        // column or k in the layout shows up as a wrong position rather than a small error.
        Accelerator sim = Simulator();
        var kernel = sim.LoadKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>>(TileKernel);
        for (int k = 0; k < 16; k++)
        {
            var a = new ushort[256];
            var b = new ushort[128];
            for (int r = 0; r < 16; r++) a[r * 16 + k] = Bf16.FromFloat(r + 1);
            for (int n = 0; n < 8; n++) b[k * 8 + n] = Bf16.FromFloat(100 * (n + 1));
            using var da = sim.Allocate1D(a);
            using var db = sim.Allocate1D(b);
            using var dc = sim.Allocate1D<float>(128);
            using var dd = sim.Allocate1D<float>(128);
            dc.MemSetToZero();
            kernel(sim.DefaultStream, new KernelConfig(1, MmaLayout.WarpSize), da.View, db.View, dc.View, dd.View);
            sim.Synchronize();
            float[] d = dd.GetAsArray1D();
            for (int r = 0; r < 16; r++)
                for (int n = 0; n < 8; n++)
                    Assert.That(d[r * 8 + n], Is.EqualTo((r + 1) * 100f * (n + 1)), $"k {k}: D({r}, {n})");
        }
    }
}
