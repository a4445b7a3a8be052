using ILGPU.Runtime;
using MaMA.Engine.Devices;
using MaMA.Kernels.TensorCore;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The tensor-core flash-attention kernel on the ILGPU CPU simulator (emulated mma.sync, ldmatrix
/// and cp.async; the same kernel code CUDA runs) against an fp64 softmax attention of the same bf16
/// q, k, v: odd T (tail tiles, rows past T), causal, key padding (including a fully padded row's
/// zero output and +inf log-sum-exp), D 64 and 128. The kernel rounds P to bf16 before P V, so the
/// error is bf16-sized (~3e-3), inside the 2e-2 budget. Small shapes: the simulator runs every
/// lane as a thread.
/// </summary>
[TestFixture]
public sealed class TensorCoreAttentionTests
{
    private const double Budget = 2e-2;

    private static Accelerator Engine() => ((IlgpuDevice)Devices.Device.Parse("ilgpu-cpu")).Accelerator;

    private sealed record Result(float[] O, float[] Lse);

    private static Result Run(ushort[] q, ushort[] k, ushort[] v, float[]? keep, int b, int h, int t, int d, bool causal, float scale)
    {
        Accelerator acc = Engine();
        using var dq = acc.Allocate1D(q);
        using var dk = acc.Allocate1D(k);
        using var dv = acc.Allocate1D(v);
        using var dkeep = keep is null ? null : acc.Allocate1D(keep);
        using var dout = acc.Allocate1D<float>((long)b * h * t * d);
        using var dlse = acc.Allocate1D<float>((long)b * h * t);
        TensorCoreAttention.Launch(acc.DefaultStream, dq.View, dk.View, dv.View, dkeep?.View ?? default, dout.View, dlse.View, b, h, t, d, causal, scale);
        acc.Synchronize();
        return new Result(dout.GetAsArray1D(), dlse.GetAsArray1D());
    }

    /// <summary>fp64 attention over the bf16 values; a row that sees no key gets 0 and lse +inf (the engine's convention).</summary>
    internal static (double[] O, double[] Lse) Reference(ushort[] q, ushort[] k, ushort[] v, float[]? keep, int b, int h, int t, int d, bool causal, float scale)
    {
        var o = new double[(long)b * h * t * d];
        var lse = new double[(long)b * h * t];
        var s = new double[t];
        for (int bh = 0; bh < b * h; bh++)
        {
            long head = (long)bh * t * d;
            for (int i = 0; i < t; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < t; j++)
                {
                    bool visible = (!causal || j <= i) && (keep is null || keep[bh / h * t + j] != 0f);
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double)Bf16.ToFloat(q[head + i * d + c]) * Bf16.ToFloat(k[head + j * d + c]);
                    s[j] = visible ? dot * scale : double.NegativeInfinity;
                    max = Math.Max(max, s[j]);
                }
                if (double.IsNegativeInfinity(max))
                {
                    lse[(long)bh * t + i] = double.PositiveInfinity;
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < t; j++) sum += s[j] = Math.Exp(s[j] - max);
                lse[(long)bh * t + i] = max + Math.Log(sum);
                for (int j = 0; j < t; j++)
                {
                    if (s[j] == 0) continue;
                    for (int c = 0; c < d; c++) o[head + i * d + c] += s[j] / sum * Bf16.ToFloat(v[head + j * d + c]);
                }
            }
        }
        return (o, lse);
    }

    private static float[] Keep(int b, int t, params int[] kept)
    {
        var keep = new float[b * t];
        for (int bi = 0; bi < b; bi++)
            for (int j = 0; j < kept[bi]; j++) keep[bi * t + j] = 1f;
        return keep;
    }

    private static void Check(int b, int h, int t, int d, bool causal, float[]? keep, float scale)
    {
        ushort[] q = Bf16Values(b * h * t * d, seed: t + d, scale: 2.0), k = Bf16Values(b * h * t * d, seed: t + d + 1, scale: 2.0);
        ushort[] v = Bf16Values(b * h * t * d, seed: t + d + 2);
        Result r = Run(q, k, v, keep, b, h, t, d, causal, scale);
        var (o, lse) = Reference(q, k, v, keep, b, h, t, d, causal, scale);
        double err = RelativeError(r.O, o);
        TestContext.Out.WriteLine($"B {b} H {h} T {t} D {d} causal {causal} mask {keep is not null}: relative L2 error {err:E2}");
        Assert.That(err, Is.LessThan(Budget));
        for (int i = 0; i < lse.Length; i++)
        {
            if (double.IsPositiveInfinity(lse[i])) Assert.That(r.Lse[i], Is.EqualTo(float.PositiveInfinity), $"lse[{i}]");
            else Assert.That(r.Lse[i], Is.EqualTo(lse[i]).Within(1e-3 * Math.Max(1, Math.Abs(lse[i]))), $"lse[{i}]");
        }
    }

    [Test]
    public void Vit_Bidirectional_D64_OddT() => Check(b: 1, h: 2, t: 37, d: 64, causal: false, keep: null, scale: 0.125f);

    [Test]
    public void Vit_Bidirectional_D64_SeveralTiles() => Check(b: 1, h: 1, t: 145, d: 64, causal: false, keep: null, scale: 0.125f);

    [Test]
    public void Gpt2_CausalPadded_D128_LayerScale()
    {
        // GPT-2 layer 11: 1/sqrt(D)/(layer + 1) folded into scale; batch 1 keeps 29 of 37 keys, batch 0 all.
        const int t = 37;
        Check(b: 2, h: 1, t: t, d: 128, causal: true, keep: Keep(2, t, t, 29), scale: 1f / MathF.Sqrt(128) / 12f);
    }

    [Test]
    public void Gpt2_Causal_D128_SeveralTiles() => Check(b: 1, h: 1, t: 145, d: 128, causal: true, keep: null, scale: 1f / MathF.Sqrt(128));

    /// <summary>
    /// Padding that leaves whole key tiles, which run in the loop without the masking code
    /// (<see cref="AttentionTiles.FirstHidden"/>), and a hole that must keep its tile and every later
    /// one in the masked loop. T 200 (four key tiles): batch 0 keeps every key, batch 1 the first
    /// 150 (tiles 0 and 1 whole), batch 2 all but key 70 (tile 0 whole), batch 3 all but key 40 (none).
    /// </summary>
    [TestCase(64, false)]
    [TestCase(128, true)]
    public void Padded_WholeTilesAndHoles(int d, bool causal)
    {
        const int t = 200;
        float[] keep = PaddedWithHoles(t);
        Check(b: 4, h: 1, t: t, d: d, causal: causal, keep: keep, scale: 1f / MathF.Sqrt(d));
    }

    /// <summary>The four batch rows of <see cref="Padded_WholeTilesAndHoles"/>: all kept; the first 150; all but key 70; all but key 40.</summary>
    internal static float[] PaddedWithHoles(int t)
    {
        var keep = Keep(4, t, t, 150, t, t);
        keep[2 * t + 70] = 0f;
        keep[3 * t + 40] = 0f;
        return keep;
    }

    [Test]
    public void FullyPaddedRows_GiveZeroAndInfiniteLse()
    {
        // Causal with key 0 padded: query 0 sees nothing; the bidirectional head with no key kept sees nothing at all.
        const int t = 19;
        var keep = Keep(2, t, t, 0);
        for (int j = 1; j < t; j++) keep[j] = 1f;
        keep[0] = 0f;
        Check(b: 2, h: 1, t: t, d: 64, causal: true, keep: keep, scale: 0.125f);
    }

    [Test]
    public void Validate_RejectsOtherHeadSizes_AndShortViews()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorCoreAttention.Validate(96, 96, 96, 0, 96, 1, 1, 1, 1, 96));
        Assert.Throws<ArgumentException>(() => TensorCoreAttention.Validate(63, 64, 64, 0, 64, 1, 1, 1, 1, 64));
        Assert.Throws<ArgumentException>(() => TensorCoreAttention.Validate(128, 128, 128, 1, 128, 2, 1, 1, 2, 64));
        Assert.DoesNotThrow(() => TensorCoreAttention.Validate(0, 0, 0, 0, 0, 0, 1, 1, 0, 128));
    }
}
