using ILGPU;
using ILGPU.Runtime;
using MaMA.Engine.Devices;
using MaMA.Kernels.TensorCore;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The tiled bf16 GEMM on the ILGPU CPU simulator (buffers of the engine's ilgpu-cpu device, kernel
/// on its 32-lane companion) against an fp64 reference of the same bf16 operands: sizes that are
/// not multiples of the 128 x 128 x 32 tile, transposed operands (both load orders), batches, and
/// the epilogue (beta, bias, LoRA term). Products of bf16 are exact in fp32, so the only error is
/// fp32 summation: ~1e-6 relative, far inside bf16's 2e-2.
/// </summary>
[TestFixture]
public sealed class TensorCoreGemmTests
{
    private const double Tolerance = 1e-5;

    private static Accelerator Engine() => ((IlgpuDevice)Devices.Device.Parse("ilgpu-cpu")).Accelerator;

    private static float[] Run(ushort[] a, ushort[] b, float[] c0, GemmArgs p, float[]? bias = null, float[]? u = null, float[]? l = null)
    {
        Accelerator acc = Engine();
        // ILGPU cannot allocate empty buffers: absent operands are default (empty) views.
        using var da = a.Length == 0 ? null : acc.Allocate1D(a);
        using var db = b.Length == 0 ? null : acc.Allocate1D(b);
        using var dc = acc.Allocate1D(c0);
        using var dbias = bias is null ? null : acc.Allocate1D(bias);
        using var du = u is null ? null : acc.Allocate1D(u);
        using var dl = l is null ? null : acc.Allocate1D(l);
        TensorCoreGemm.Launch(acc.DefaultStream, da?.View ?? default, db?.View ?? default, dc.View, p,
            dbias?.View ?? default, du?.View ?? default, dl?.View ?? default);
        acc.Synchronize();
        return dc.GetAsArray1D();
    }

    [TestCase(33, 77, 130)]
    [TestCase(130, 33, 77)]
    [TestCase(77, 130, 33)]
    [TestCase(1, 1, 1)]
    [TestCase(129, 257, 40)]
    [TestCase(16, 8, 0)]
    public void RowMajor_MatchesReference(int m, int n, int k)
    {
        GemmArgs p = GemmArgs.RowMajor(1, m, n, k);
        ushort[] a = Bf16Values(m * k, seed: m), b = Bf16Values(k * n, seed: n + 7);
        float[] c0 = new float[m * n];
        float[] c = Run(a, b, c0, p);
        Assert.That(RelativeError(c, Reference(a, b, c0, p)), Is.LessThan(k == 0 ? 1e-30 : Tolerance));
    }

    [TestCase(false, true)]   // x W^T with W [N, K]: B walked along k (BKFast)
    [TestCase(true, false)]   // A^T B with A stored [K, M]: A walked along m
    [TestCase(true, true)]
    public void TransposedOperands_MatchReference(bool transposeA, bool transposeB)
    {
        const int m = 45, n = 70, k = 99;
        ushort[] a = Bf16Values(m * k, seed: 3), b = Bf16Values(k * n, seed: 4);
        var p = new GemmArgs
        {
            M = m, N = n, K = k, Batch = 1, Alpha = 1f, CBatch = m * n, Ldc = n,
            ARow = transposeA ? 1 : k, ACol = transposeA ? m : 1,
            BRow = transposeB ? 1 : n, BCol = transposeB ? k : 1,
            AKFast = transposeA ? 0 : 1, BKFast = transposeB ? 1 : 0,
        };
        float[] c0 = new float[m * n];
        Assert.That(RelativeError(Run(a, b, c0, p), Reference(a, b, c0, p)), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// The cp.async tile loads against the element-wise ones, in each pair of operand layouts: the
    /// same operands once at 16-byte aligned addresses (cp.async) and once one element later (not
    /// aligned: element-wise) give bit-identical products (same fragments, same summation order),
    /// and both match the reference. M = 136 and K = 40 leave a partial row tile and a partial k
    /// tile, whose chunks cp.async zero-fills.
    /// </summary>
    [TestCase(true, true, false)]
    [TestCase(true, false, false)]
    [TestCase(false, true, false)]
    [TestCase(false, false, false)]
    [TestCase(true, false, true)]   // one B for both batches (batch stride 0)
    public void AsyncCopies_MatchTheElementwiseLoads_InEveryLayout(bool aKFast, bool bKFast, bool broadcastB)
    {
        const int batch = 2, m = 136, n = 72, k = 40;
        var p = new GemmArgs
        {
            M = m, N = n, K = k, Batch = batch, Alpha = 1f, CBatch = m * n, Ldc = n,
            ABatch = m * k, ARow = aKFast ? k : 1, ACol = aKFast ? 1 : m,
            BBatch = broadcastB ? 0 : k * n, BRow = bKFast ? 1 : n, BCol = bKFast ? k : 1,
            AKFast = aKFast ? 1 : 0, BKFast = bKFast ? 1 : 0,
        };
        ushort[] a = Bf16Values(batch * m * k, seed: 21), b = Bf16Values((broadcastB ? 1 : batch) * k * n, seed: 22);
        Accelerator acc = Engine();
        using var da = acc.Allocate1D<ushort>(a.Length + 16);
        using var db = acc.Allocate1D<ushort>(b.Length + 16);
        using var dc = acc.Allocate1D<float>(batch * m * n);
        float[] Product(bool aligned)
        {
            ArrayView<ushort> va = Placed(da.View, a, aligned), vb = Placed(db.View, b, aligned);
            Assert.That(TensorCoreGemm.AsyncCopies(aKFast, p.ACol, p.ARow, p.ABatch, k, m, Address(va)), Is.EqualTo(aligned), "A's load path");
            Assert.That(TensorCoreGemm.AsyncCopies(bKFast, p.BRow, p.BCol, p.BBatch, k, n, Address(vb)), Is.EqualTo(aligned), "B's load path");
            dc.MemSetToZero();
            TensorCoreGemm.Launch(acc.DefaultStream, va, vb, dc.View, p);
            acc.Synchronize();
            return dc.GetAsArray1D();
        }
        float[] async = Product(aligned: true), elementwise = Product(aligned: false);
        Assert.That(async, Is.EqualTo(elementwise), "cp.async and element-wise tiles");
        Assert.That(RelativeError(async, Reference(a, b, new float[batch * m * n], p)), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// The pipeline at every depth (2, 3, 4 stages), by cp.async and element-wise: one k tile (the
    /// prologue's empty groups), three with a partial last one, and eight, which go round the ring
    /// of 4 stages twice. The k sums run in the same order at every depth, so the products are
    /// bitwise equal; a tile read from the wrong stage, or a stage overwritten before every warp
    /// has read it, would change them.
    /// </summary>
    [TestCase(32)]
    [TestCase(70)]
    [TestCase(250)]
    public void Pipeline_EveryDepth_GivesTheSameProduct(int k)
    {
        const int m = 40, n = 72;
        var p = new GemmArgs
        {
            M = m, N = n, K = k, Batch = 1, Alpha = 1f, CBatch = m * n, Ldc = n,
            ABatch = m * k, ARow = k, ACol = 1, AKFast = 1,
            BBatch = k * n, BRow = n, BCol = 1, BKFast = 0,
        };
        ushort[] a = Bf16Values(m * k, seed: 31), b = Bf16Values(k * n, seed: 32);
        double[] reference = Reference(a, b, new float[m * n], p);
        Accelerator acc = Engine();
        using var da = acc.Allocate1D<ushort>(a.Length + 16);
        using var db = acc.Allocate1D<ushort>(b.Length + 16);
        using var dc = acc.Allocate1D<float>(m * n);
        float[]? first = null;
        foreach (bool aligned in new[] { true, false })
        for (int stages = TensorCoreGemm.MinStages; stages <= TensorCoreGemm.MaxStages; stages++)
        {
            ArrayView<ushort> va = Placed(da.View, a, aligned), vb = Placed(db.View, b, aligned);
            dc.MemSetToZero();
            TensorCoreGemm.Launch(acc.DefaultStream, va, vb, dc.View, p, stages: stages);
            acc.Synchronize();
            float[] c = dc.GetAsArray1D();
            string where = $"{stages} stages, {(aligned ? "cp.async" : "element-wise")}";
            Assert.That(RelativeError(c, reference), Is.LessThan(Tolerance), where);
            first ??= c;
            Assert.That(c, Is.EqualTo(first), where + " against 2 stages by cp.async");
        }
    }

    [Test]
    public void Stages_AreTheDeepestThatKeepTwoGroupsPerSm()
    {
        // (opt-in limit, shared memory per SM) of the H100 / H200, the A100, and the 100 KB SMs of
        // sm_86 / sm_89 / sm_120 cards.
        Assert.That(TensorCoreGemm.StagesFor(232_448, 233_472), Is.EqualTo(4));
        Assert.That(TensorCoreGemm.StagesFor(166_912, 167_936), Is.EqualTo(4));
        Assert.That(TensorCoreGemm.StagesFor(101_376, 102_400), Is.EqualTo(2));
        // Three stages (61,456 B) fit two groups in 126 KB, four (81,936 B) do not.
        Assert.That(TensorCoreGemm.StagesFor(101_376, 126 * 1024), Is.EqualTo(3));
        Assert.That(TensorCoreGemm.StagesFor(48 * 1024, 233_472), Is.EqualTo(2), "no opt-in: 40 KB");
        Assert.That(TensorCoreGemm.StagesFor(Engine()), Is.EqualTo(TensorCoreGemm.MaxStages), "the simulator takes the deepest");
    }

    [TestCase(1)]
    [TestCase(5)]
    public void Launch_RejectsAStageCountOutsideTwoToFour(int stages)
    {
        Accelerator acc = Engine();
        using var d = acc.Allocate1D<ushort>(64);
        using var c = acc.Allocate1D<float>(64);
        Assert.That(() => TensorCoreGemm.Launch(acc.DefaultStream, d.View, d.View, c.View, GemmArgs.RowMajor(1, 4, 4, 4), stages: stages),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("2 to 4 stages"));
    }

    private static long Address(ArrayView<ushort> view) => view.LoadEffectiveAddressAsPtr().ToInt64();

    /// <summary><paramref name="values"/> copied into <paramref name="buffer"/> at a 16-byte aligned element, or one element past it.</summary>
    private static ArrayView<ushort> Placed(ArrayView<ushort> buffer, ushort[] values, bool aligned)
    {
        int offset = (int)((16 - (Address(buffer) & 15)) & 15) / sizeof(ushort) + (aligned ? 0 : 1);
        ArrayView<ushort> view = buffer.SubView(offset, values.Length);
        view.CopyFromCPU(values);
        return view;
    }

    [Test]
    public void Batched_WithBroadcastB_AlphaBeta_MatchesReference()
    {
        const int batch = 3, m = 37, n = 29, k = 50;
        GemmArgs p = GemmArgs.RowMajor(batch, m, n, k);
        p.BBatch = 0; // one B shared by every batch
        p.Alpha = 0.5f;
        p.Beta = -2f;
        ushort[] a = Bf16Values(batch * m * k, seed: 5), b = Bf16Values(k * n, seed: 6);
        float[] c0 = Floats(batch * m * n, seed: 7);
        Assert.That(RelativeError(Run(a, b, c0, p), Reference(a, b, c0, p)), Is.LessThan(Tolerance));
    }

    [Test]
    public void LoraEpilogue_AddsBiasAndLowRankTerm()
    {
        const int m = 33, n = 77, k = 130, r = 8;
        GemmArgs p = GemmArgs.RowMajor(1, m, n, k);
        p.HasBias = 1;
        p.LoraRank = r;
        p.LoraScale = 2f;
        ushort[] a = Bf16Values(m * k, seed: 8), b = Bf16Values(k * n, seed: 9);
        float[] bias = Floats(n, seed: 10), u = Floats(m * r, seed: 11), l = Floats(n * r, seed: 12);
        float[] c0 = new float[m * n];
        Assert.That(RelativeError(Run(a, b, c0, p, bias, u, l), Reference(a, b, c0, p, bias, u, l)), Is.LessThan(Tolerance));
    }

    [Test]
    public void Validate_RejectsViewsTooShortForShapeAndStrides()
    {
        GemmArgs p = GemmArgs.RowMajor(2, 4, 5, 6);
        Assert.That(() => TensorCoreGemm.Validate(2 * 4 * 6 - 1, 2 * 6 * 5, 2 * 4 * 5, p, 0, 0, 0),
            Throws.ArgumentException.With.Message.Contains("A has 47 elements"));
        Assert.That(() => TensorCoreGemm.Validate(48, 60, 39, p, 0, 0, 0), Throws.ArgumentException.With.Message.Contains("C has 39"));
        p.HasBias = 1;
        Assert.That(() => TensorCoreGemm.Validate(48, 60, 40, p, 4, 0, 0), Throws.ArgumentException.With.Message.Contains("bias"));
        p.HasBias = 0;
        p.LoraRank = 2;
        Assert.That(() => TensorCoreGemm.Validate(48, 60, 40, p, 0, 8, 10), Throws.ArgumentException.With.Message.Contains("one batch"));
        Assert.That(() => TensorCoreGemm.Validate(48, 60, 40, GemmArgs.RowMajor(1, 4, 5, 6) with { }, 0, 0, 0), Throws.Nothing);
    }
}
