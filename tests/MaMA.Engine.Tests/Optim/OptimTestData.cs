using MaMA.Engine.Nn;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace MaMA.Engine.Tests.Optim;

/// <summary>
/// Shared fixtures: four parameters (two decayed, two flagged NoWeightDecay), their initial
/// values and five gradient sets, built identically for the engine and for TorchSharp.
/// </summary>
internal sealed class OptimTestData
{
    public static readonly int[][] Shapes = [[7, 5], [13], [5], [3, 4]];

    /// <summary>Which parameters skip weight decay (biases and norm gains in a real model).</summary>
    public static readonly bool[] NoDecay = [false, false, true, true];

    public const int Steps = 5;

    public OptimTestData(int seed)
    {
        var rng = new Random(seed);
        Initial = Shapes.Select(s => Normal(rng, s, 1f)).ToArray();
        // Gradient scales vary per step so moments and bias corrections matter.
        Grads = Enumerable.Range(0, Steps).Select(k => Shapes.Select(s => Normal(rng, s, 0.1f * (k + 1))).ToArray()).ToArray();
    }

    public float[][] Initial { get; }

    /// <summary>Grads[step][parameter].</summary>
    public float[][][] Grads { get; }

    public Parameter[] EngineParameters(Device device) =>
        Shapes.Select((s, i) => new Parameter(EngineTensor.FromArray(Initial[i], s, device), $"p{i}", NoDecay[i])).ToArray();

    public TorchParameter[] TorchParameters() =>
        Shapes.Select((s, i) => new TorchParameter(torch.tensor(Initial[i], s.Select(d => (long)d).ToArray()), requires_grad: true)).ToArray();

    public static void SetTorchGrad(TorchParameter p, float[] g, int[] shape) =>
        p.grad = torch.tensor(g, shape.Select(d => (long)d).ToArray());

    public static float[] Values(TorchParameter p) => p.detach().contiguous().data<float>().ToArray();

    public static float[] Normal(Random rng, int[] shape, float scale) =>
        Enumerable.Range(0, (int)Tensors.Shape.Numel(shape)).Select(_ => scale * OpData.Normal(rng)).ToArray();

    /// <summary>Asserts relative error (L2 of the difference over L2 of the reference) within tolerance.</summary>
    public static void AssertClose(float[] actual, float[] expected, double tolerance, string what)
    {
        double err = OpResult.RelativeError(actual, expected);
        Assert.That(err, Is.LessThanOrEqualTo(tolerance), $"{what}: relative error {err:E2} (tolerance {tolerance:E0})");
    }
}
