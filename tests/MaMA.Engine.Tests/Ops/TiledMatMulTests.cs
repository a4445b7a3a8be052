using ILGPU;
using ILGPU.Runtime;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Linear;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The tiled fp32 GEMM that GPUs without cuBLAS run (<see cref="TiledMatMul"/>: OpenCL, CUDA
/// without the library), on the simulator's 256-thread companion against an fp64 reference:
/// partial tiles on every edge, K = 0 and K past several k tiles, both load orders of each
/// operand (transposes), batches with a broadcast operand, alpha and beta; then the route through
/// <see cref="DeviceGemm"/> that an fp32 op takes.
/// </summary>
[TestFixture]
[NonParallelizable] // DeviceGemm.TiledFp32 is process-wide
public sealed class TiledMatMulTests
{
    private static Accelerator Simulator => ((IlgpuDevice)Device.Parse("ilgpu-cpu")).Accelerator;

    private static float[] Values(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    private static double[] Reference(float[] a, float[] b, float[] c0, MatMulArgs p)
    {
        var c = new double[p.Batch * p.M * p.N];
        for (int z = 0; z < p.Batch; z++)
        for (int i = 0; i < p.M; i++)
        for (int j = 0; j < p.N; j++)
        {
            double s = 0;
            for (int k = 0; k < p.K; k++)
                s += (double)a[z * p.ABatch + i * p.ARow + k * p.ACol] * b[z * p.BBatch + k * p.BRow + j * p.BCol];
            int at = (z * p.M + i) * p.N + j;
            c[at] = p.Alpha * s + (p.Beta == 0f ? 0 : p.Beta * (double)c0[at]);
        }
        return c;
    }

    private static double MaxError(float[] actual, double[] expected)
    {
        double scale = Math.Max(1e-30, expected.Max(Math.Abs));
        return actual.Select((v, i) => Math.Abs(v - expected[i])).DefaultIfEmpty(0).Max() / scale;
    }

    // (batch, M, N, K, A transposed, B transposed, B broadcast, beta)
    [TestCase(1, 1, 1, 1, false, false, false, 0f)]
    [TestCase(1, 33, 77, 130, false, false, false, 0f)]
    [TestCase(1, 130, 33, 77, true, false, false, 0f)]
    [TestCase(1, 77, 130, 33, false, true, false, 0.5f)]
    [TestCase(2, 64, 64, 16, true, true, false, 0f)]
    [TestCase(3, 40, 50, 60, false, false, true, -2f)]
    [TestCase(1, 65, 129, 0, false, false, false, 1.5f)]
    public void MatchesTheReference(int batch, int m, int n, int k, bool transposeA, bool transposeB, bool broadcastB, float beta)
    {
        var p = new MatMulArgs
        {
            Batch = batch, M = m, N = n, K = k, Alpha = 0.75f, Beta = beta,
            ABatch = (long)m * k, ARow = transposeA ? 1 : k, ACol = transposeA ? m : 1,
            BBatch = broadcastB ? 0 : (long)k * n, BRow = transposeB ? 1 : n, BCol = transposeB ? k : 1,
        };
        float[] a = Values(Math.Max(1, batch * m * k), seed: m + k), b = Values(Math.Max(1, (broadcastB ? 1 : batch) * k * n), seed: n + 3);
        float[] c0 = Values(batch * m * n, seed: 5);
        Accelerator acc = Simulator;
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var dc = acc.Allocate1D(c0);
        TiledMatMul.Launch(acc.DefaultStream, da.View, db.View, dc.View, p);
        acc.Synchronize();
        Assert.That(MaxError(dc.GetAsArray1D(), Reference(a, b, c0, p)), Is.LessThan(1e-5));
    }

    [Test]
    public void GemmForms_AreForGpus_TheSimulatorKeepsThePerRowKernels_UnlessForced()
    {
        var stream = ((IlgpuDevice)Device.Parse("ilgpu-cpu")).Stream;
        Assert.That(GemmForm.Auto.UsesGemm(stream), Is.False, "the simulator's default: its tests force each form");
        Assert.That(GemmForm.Gemm.UsesGemm(stream), Is.True);
        Assert.That(GemmForm.Kernels.UsesGemm(stream), Is.False);
    }

    [Test]
    public void Fp32MatMul_TakesTheTiledKernel_WhereAGpuWould()
    {
        Assert.That(TiledMatMul.Target(Simulator), Is.Not.Null, "the simulator's 256-thread companion");
        float[] av = Values(2 * 37 * 90, seed: 7), bv = Values(90 * 45, seed: 8), dy = Values(2 * 37 * 45, seed: 9);
        float[][] Run(Device d)
        {
            Tensor a = Tensor.FromArray(av, [2, 37, 90], d), b = Tensor.FromArray(bv, [90, 45], d);
            a.RequiresGrad = b.RequiresGrad = true;
            Tensor y = EngineOps.MatMul(a, b);
            y.Backward(Tensor.FromArray(dy, [2, 37, 45], d));
            return [y.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray()];
        }
        float[][] cpu = Run(Device.Cpu);
        long before = DeviceGemm.TiledCalls;
        float[][] auto = Run(Device.Parse("ilgpu-cpu"));
        Assert.That(DeviceGemm.TiledCalls, Is.EqualTo(before), "the simulator keeps the per-output kernel by default");
        DeviceGemm.TiledFp32 = true;
        try
        {
            float[][] tiled = Run(Device.Parse("ilgpu-cpu"));
            Assert.That(DeviceGemm.TiledCalls - before, Is.EqualTo(3), "forward and both backward products");
            for (int i = 0; i < 3; i++)
            {
                Assert.That(MaMA.Interop.Torch.Parity.OpResult.RelativeError(tiled[i], cpu[i]), Is.LessThan(1e-5), $"output {i}");
                Assert.That(MaMA.Interop.Torch.Parity.OpResult.RelativeError(auto[i], cpu[i]), Is.LessThan(1e-5), $"output {i}, per-output kernel");
            }
        }
        finally
        {
            DeviceGemm.TiledFp32 = null;
        }
    }
}
