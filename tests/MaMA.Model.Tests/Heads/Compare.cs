using MaMA.Interop.Torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Heads;

/// <summary>Relative errors ||a - b|| / ||b|| between engine tensors and TorchSharp references.</summary>
internal static class Compare
{
    public static double RelErr(EngineTensor actual, TorchTensor expected) =>
        RelErr(actual.ToFloatArray(), expected.detach().cpu().to(TorchSharp.torch.ScalarType.Float32).contiguous().data<float>().ToArray());

    public static double RelErr(float[] actual, float[] expected)
    {
        if (actual.Length != expected.Length) return double.PositiveInfinity;
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>Asserts ||a - b|| / ||b|| &lt;= tol and returns the error (for the report line).</summary>
    public static double Close(EngineTensor actual, TorchTensor expected, double tol, string what)
    {
        Assert.That(actual.ShapeArray.Select(d => (long)d), Is.EqualTo(expected.shape), $"{what}: shape");
        double err = RelErr(actual, expected);
        Assert.That(err, Is.LessThanOrEqualTo(tol), $"{what}: relative error {err:E2}");
        return err;
    }

    /// <summary>A seeded engine tensor, uniform in [low, high).</summary>
    public static EngineTensor Uniform(int[] shape, int seed, float low = -1f, float high = 1f)
    {
        var rng = new Random(seed);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var data = new float[count];
        for (long i = 0; i < count; i++) data[i] = (float)(low + (high - low) * rng.NextDouble());
        return EngineTensor.FromArray(data, shape);
    }

    public static TorchTensor Torch(EngineTensor t, bool requiresGrad = false)
    {
        TorchTensor x = TorchBridge.ToTorch(t);
        return requiresGrad ? x.requires_grad_(true) : x;
    }
}
