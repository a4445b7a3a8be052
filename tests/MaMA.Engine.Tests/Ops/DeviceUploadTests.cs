using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// On the ILGPU simulator (the kernels and launch paths CUDA gets), ops that only need shapes and
/// strides send them to the kernels by value: no host-to-device copy, which would synchronise the
/// stream (<see cref="Tensor.DeviceUploads"/>), in their forward or backward. Each result is also
/// checked against the fast CPU backend, exactly where the op only moves or adds values.
/// </summary>
[TestFixture]
[NonParallelizable] // reads a process-wide counter
public sealed class DeviceUploadTests
{
    private static readonly Device Sim = Device.Parse("ilgpu-cpu");

    [Test]
    public void BroadcastAddOfATransposedViewUploadsNothing()
    {
        float[] x = Values(4 * 5 * 6, 1), bias = Values(5, 2);
        float[][] results = OnBoth(d => (Tensor.FromArray(x, [4, 6, 5], d), Tensor.FromArray(bias, [5, 1], d)),
            t => [EngineOps.Add(t.Item1.Transpose(1, 2), t.Item2)]);
        Assert.That(results[1], Is.EqualTo(results[0]));
    }

    [Test]
    public void EightAxisBroadcastMulSplitsIntoLaunchesAndUploadsNothing()
    {
        // A permuted eight-axis operand times a broadcast one: eight axes survive coalescing, so the
        // kernel runs once per position of the two leading axes, each with its own bases.
        int[] shape = [2, 3, 2, 3, 2, 3, 2, 3];
        float[] x = Values(shape.Aggregate(1, (p, s) => p * s), 12), w = Values(3 * 2 * 2, 13);
        float[][] results = OnBoth(d => (Tensor.FromArray(x, shape, d), Tensor.FromArray(w, [3, 1, 1, 2, 1, 2], d)),
            t => [EngineOps.Mul(t.Item1.Permute(7, 6, 5, 4, 3, 2, 1, 0), t.Item2)]);
        Assert.That(results[1], Is.EqualTo(results[0]));
    }

    [Test]
    public void ContiguousOfAnEightAxisPermutationUploadsNothing()
    {
        // Eight axes that do not merge: the copy runs as several launches of a six-axis map.
        int[] shape = [2, 3, 2, 3, 2, 3, 2, 3];
        float[] x = Values(shape.Aggregate(1, (p, s) => p * s), 3);
        float[][] results = OnBoth(d => Tensor.FromArray(x, shape, d), t => [t.Permute(7, 6, 5, 4, 3, 2, 1, 0).Contiguous()]);
        Assert.That(results[1], Is.EqualTo(results[0]));
    }

    [Test]
    public void ConcatOfExpandedAndStridedViewsAndItsBackwardUploadNothing()
    {
        float[] a = Values(3 * 4, 4), b = Values(4, 5), w = Values(3 * 9, 6);
        float[][] results = OnBoth(d =>
            {
                Tensor ta = Tensor.FromArray(a, [3, 4], d), tb = Tensor.FromArray(b, [1, 4], d);
                ta.RequiresGrad = true;
                tb.RequiresGrad = true;
                return (ta, tb, Tensor.FromArray(w, [3, 9], d));
            },
            t =>
            {
                // Narrowed, expanded and transposed-then-narrowed inputs; the backward narrows dy into each.
                Tensor y = EngineOps.Concat([t.Item1.Narrow(1, 1, 3), t.Item2.Expand(3, 4), t.Item1.Transpose(0, 1).Narrow(0, 0, 2).Transpose(0, 1)], 1);
                EngineOps.Sum(EngineOps.Mul(y, t.Item3)).Backward();
                return [y, t.Item1.Grad!, t.Item2.Grad!];
            });
        // The expanded input's gradient sums three rows, in another order on each backend.
        Assert.That(results[1], Is.EqualTo(results[0]).Within(1e-6f));
    }

    [Test]
    public void FullUploadsNothing()
    {
        long before = Tensor.DeviceUploads;
        Tensor full = Tensor.Full([3, 5], 2.5f, Sim);
        Assert.That(Tensor.DeviceUploads - before, Is.Zero);
        Assert.That(full.ToFloatArray(), Is.All.EqualTo(2.5f));
    }

    [Test]
    public void StridedMatMulUploadsNothing()
    {
        // The simulator has no cuBLAS: a transposed operand goes to the generated strided GEMM.
        float[] a = Values(7 * 5, 7), b = Values(7 * 4, 8);
        float[][] results = OnBoth(d => (Tensor.FromArray(a, [7, 5], d), Tensor.FromArray(b, [7, 4], d)),
            t => [EngineOps.MatMul(t.Item1.Transpose(0, 1), t.Item2)]);
        Assert.That(results[1], Is.EqualTo(results[0]).Within(1e-5f));
    }

    [Test]
    public void AttentionWithoutAMaskUploadsNothing()
    {
        // No key mask: the fp32 kernels read an all-keep mask, filled on the device.
        float[] q = Values(2 * 2 * 5 * 8, 9), k = Values(2 * 2 * 5 * 8, 10), v = Values(2 * 2 * 5 * 8, 11);
        float[][] results = OnBoth(d => (Tensor.FromArray(q, [2, 2, 5, 8], d), Tensor.FromArray(k, [2, 2, 5, 8], d), Tensor.FromArray(v, [2, 2, 5, 8], d)),
            t => [EngineOps.Attention(t.Item1, t.Item2, t.Item3, keyPaddingMask: null, causal: false, scale: 0.35f)]);
        Assert.That(results[1], Is.EqualTo(results[0]).Within(1e-5f));
    }

    [Test]
    public void CrossEntropyOfHostIdsUploadsThemOnceAndMatchesTensorTargets()
    {
        float[] logits = Values(6 * 4, 14);
        long[] ids = [3, 0, 1, 1, 2, 0];
        float expected = EngineOps.CrossEntropy(Tensor.FromArray(logits, [6, 4]), Tensor.FromArray(ids, [6]), labelSmoothing: 0.1f).Item();
        Tensor onSim = Tensor.FromArray(logits, [6, 4], Sim);
        long before = Tensor.DeviceUploads;
        Tensor loss = EngineOps.CrossEntropy(onSim, ids, labelSmoothing: 0.1f);
        Assert.That(Tensor.DeviceUploads - before, Is.EqualTo(1), "the int32 ids, once");
        Assert.That(loss.Item(), Is.EqualTo(expected).Within(1e-6f));
        var bad = Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(onSim, [0, 1, 4, 0, 0, 0]))!;
        Assert.That(bad.Message, Does.Contain("target 4 at index 2"));
        Assert.Throws<ArgumentException>(() => EngineOps.CrossEntropy(onSim, new long[5]));
    }

    [Test]
    public void CountersAddOnTheirDevice()
    {
        Tensor counter = Tensor.FromArray(new long[] { 5, -2 }, [2], Sim);
        long before = Tensor.DeviceUploads;
        EngineOps.AddToCounter(counter, 3);
        EngineOps.AddToCounter(counter, 1);
        Assert.That(Tensor.DeviceUploads - before, Is.Zero);
        Assert.That(counter.ToArray<long>(), Is.EqualTo(new long[] { 9, 2 }));
        Tensor onCpu = Tensor.FromArray(new long[] { 7 }, []);
        EngineOps.AddToCounter(onCpu, 2);
        Assert.That(onCpu.ToArray<long>(), Is.EqualTo(new long[] { 9 }));
        Assert.Throws<ArgumentException>(() => EngineOps.AddToCounter(Tensor.Zeros([1], DType.Float32, Sim), 1));
    }

    /// <summary>
    /// Makes the inputs and runs <paramref name="op"/> on the CPU, then on the simulator, asserting
    /// that the simulator's op (after its inputs were uploaded) uploaded nothing; returns the
    /// outputs' values, [0] CPU and [1] simulator, concatenated.
    /// </summary>
    private static float[][] OnBoth<TInputs>(Func<Device, TInputs> inputs, Func<TInputs, Tensor[]> op)
    {
        float[] cpu = Flatten(op(inputs(Device.Cpu)));
        TInputs onSim = inputs(Sim);
        long before = Tensor.DeviceUploads;
        Tensor[] outputs = op(onSim);
        Assert.That(Tensor.DeviceUploads - before, Is.Zero, "host-to-device copies made by the op");
        return [cpu, Flatten(outputs)];
    }

    private static float[] Flatten(Tensor[] outputs) => outputs.SelectMany(t => t.ToFloatArray()).ToArray();

    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }
}
