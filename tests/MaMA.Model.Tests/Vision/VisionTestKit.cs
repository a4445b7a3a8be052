using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.Vision;
using EngineOps = MaMA.Engine.Ops;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Vision;

/// <summary>Shared pieces of the ViT tests: non-trivial parameters, the TorchSharp twin, errors.</summary>
internal static class VisionTestKit
{
    /// <summary>
    /// Overwrites every parameter with values that exercise each path (init values are too close to
    /// zero for that: cls/register tokens 1e-6, LayerScale 0.1): weights normal / sqrt(fan_in), biases
    /// and shifts 0.1 n, gains 1 + 0.2 n, LayerScale 0.5 + 0.2 n, tokens and positions 0.5 n.
    /// </summary>
    public static void Randomize(Module model, int seed)
    {
        var rng = new Random(seed);
        using (GradMode.NoGrad())
            foreach ((string name, Parameter p) in model.NamedParameters())
            {
                int[] shape = p.ShapeArray;
                int fanIn = shape.Length >= 2 ? shape.Skip(1).Aggregate(1, (a, b) => a * b) : 1;
                (double mean, double std) = name switch
                {
                    _ when name.EndsWith("gamma", StringComparison.Ordinal) => (0.5, 0.2),
                    _ when name.EndsWith("bias", StringComparison.Ordinal) => (0.0, 0.1),
                    _ when name.EndsWith("weight", StringComparison.Ordinal) && shape.Length == 1 => (1.0, 0.2),
                    _ when name.EndsWith("weight", StringComparison.Ordinal) => (0.0, 1.0 / Math.Sqrt(fanIn)),
                    _ => (0.0, 0.5),
                };
                p.CopyFrom(EngineTensor.FromArray(Normal(rng, (int)p.Numel, mean, std), shape));
            }
    }

    /// <summary>The TorchSharp reference holding the same parameters as <paramref name="model"/>.</summary>
    public static TorchDinoV2 TorchTwin(DinoVisionTransformer model)
    {
        var twin = new TorchDinoV2(model.Config);
        twin.LoadEngineState(model.StateDict());
        return twin;
    }

    public static float[] Normal(Random rng, int count, double mean = 0, double std = 1)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            data[i] = (float)(mean + std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return data;
    }

    /// <summary>||a - b|| / ||b|| in double.</summary>
    public static double RelativeError(float[] actual, float[] expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths differ: {actual.Length} vs {expected.Length}");
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            diff += d * d;
            norm += (double)expected[i] * expected[i];
        }
        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    public static float[] Values(EngineTensor t) => t.ToFloatArray();

    public static float[] Values(TorchTensor t) => TorchBridge.FromTorch(t).ToFloatArray();

    /// <summary>The four outputs by name.</summary>
    public static IEnumerable<(string Name, EngineTensor Value)> Named(VisionOutput o) =>
        [("x_prenorm", o.XPrenorm), ("x_norm", o.XNorm), ("cls", o.Cls), ("patches", o.Patches)];

    /// <summary>sum over the outputs of sum(output * w_output): a scalar touching every output.</summary>
    public static EngineTensor EngineLoss(VisionOutput o, IReadOnlyList<float[]> weights)
    {
        EngineTensor? total = null;
        int i = 0;
        foreach ((_, EngineTensor value) in Named(o))
        {
            var w = EngineTensor.FromArray(weights[i++], value.ShapeArray, value.Device);
            EngineTensor term = EngineOps.Sum(EngineOps.Mul(value, w));
            total = total is null ? term : EngineOps.Add(total, term);
        }
        return total!;
    }

    /// <summary>Fixed random output weights for <see cref="EngineLoss"/>, one array per output.</summary>
    public static float[][] LossWeights(VisionOutput o, int seed)
    {
        var rng = new Random(seed);
        return Named(o).Select(n => Normal(rng, (int)n.Value.Numel)).ToArray();
    }

    /// <summary>Writes a table of errors and fails naming every entry above its tolerance.</summary>
    public static void AssertAll(string what, IEnumerable<(string Name, double Error)> errors, double tolerance)
    {
        var list = errors.ToList();
        TestContext.Out.WriteLine($"{what}: max relative error {list.Max(e => e.Error):E2} ({list.MaxBy(e => e.Error).Name}), {list.Count} tensors");
        var failures = list.Where(e => !(e.Error <= tolerance)).Select(e => $"{e.Name}: {e.Error:E2}").ToList();
        Assert.That(failures, Is.Empty, $"{what}: relative errors above {tolerance:E0}");
    }
}
