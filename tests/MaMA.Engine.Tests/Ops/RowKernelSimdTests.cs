using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The hand-written SIMD row kernels of the fast CPU backend (Kernels/Cpu: LayerNormSimd,
/// SoftmaxSimd, CrossEntropySimd, L2NormalizeSimd, EmbeddingSimd) against the plain generated
/// kernels, which run the same ops on the ILGPU CPU simulator: outputs and every gradient, at
/// widths that leave vector tails (1, 15, 33, 1025, ...) and row counts that are not multiples of
/// anything, small (one thread) and large enough to split across cores.
/// </summary>
public sealed class RowKernelSimdTests
{
    private const double Tolerance = 2e-6;

    private static readonly Device Fast = Device.Parse("cpu");
    private static readonly Device Plain = Device.Parse("ilgpu-cpu");

    private static readonly (int Rows, int Cols)[] Shapes = [(1, 1), (3, 2), (7, 15), (5, 33), (9, 17), (3, 1025), (130, 1025), (301, 513), (520, 1025)];

    [TestCaseSource(nameof(Shapes))]
    public void SoftmaxMatchesThePlainKernel((int Rows, int Cols) shape) =>
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.Softmax(x[0]));

    [TestCaseSource(nameof(Shapes))]
    public void LogSoftmaxMatchesThePlainKernel((int Rows, int Cols) shape) =>
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.LogSoftmax(x[0]));

    [TestCaseSource(nameof(Shapes))]
    public void SoftmaxOfLargeLogitsMatchesThePlainKernel((int Rows, int Cols) shape) =>
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.Softmax(EngineOps.Scale(x[0], 40f)), gradients: false);

    [TestCaseSource(nameof(Shapes))]
    public void L2NormalizeMatchesThePlainKernel((int Rows, int Cols) shape) =>
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.L2Normalize(x[0]));

    [TestCaseSource(nameof(Shapes))]
    public void LayerNormMatchesThePlainKernel((int Rows, int Cols) shape)
    {
        // Two channels normalise to exactly -1 and +1 whatever x is, so dx is pure rounding noise on both sides.
        if (shape.Cols == 2) Assert.Ignore("dx of a two-channel layer norm is rounding noise");
        int[] p = [shape.Cols];
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.LayerNorm(x[0], x[1], x[2], 1e-6f), true, p, p);
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.LayerNorm(x[0], x[1], null, 1e-5f), true, p);
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.LayerNorm(x[0], null, x[1]), true, p);
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.LayerNorm(x[0], null, null));
    }

    [TestCaseSource(nameof(Shapes))]
    public void CrossEntropyMatchesThePlainKernel((int Rows, int Cols) shape)
    {
        var rng = new Random(shape.Rows * 31 + shape.Cols);
        long[] targets = Enumerable.Range(0, shape.Rows).Select(_ => (long)rng.Next(shape.Cols)).ToArray();
        int? ignore = shape.Rows > 2 ? (int)targets[1] : null;
        if (ignore is { } ig && targets.All(t => t == ig)) ignore = null;
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.CrossEntropy(x[0], Tensor.FromArray(targets, [shape.Rows], x[0].Device)));
        Compare(shape, [shape.Rows, shape.Cols], x => EngineOps.CrossEntropy(EngineOps.Scale(x[0], 25f), Tensor.FromArray(targets, [shape.Rows], x[0].Device),
            labelSmoothing: 0.1f, ignoreIndex: ignore));
    }

    [TestCase(11, 19, 27)]
    [TestCase(5, 33, 40)]
    [TestCase(600, 1025, 3 * 7)]
    [TestCase(300, 257, 1031)]
    public void EmbeddingMatchesThePlainKernel(int vocabulary, int c, int tokens)
    {
        var rng = new Random(vocabulary + c);
        // Few distinct ids so most have several tokens (the summed gradient rows).
        long[] ids = Enumerable.Range(0, tokens).Select(_ => (long)rng.Next(Math.Min(vocabulary, 1 + tokens / 3))).ToArray();
        Compare((vocabulary, c), [vocabulary, c], x => EngineOps.Embedding(x[0], Tensor.FromArray(ids, [tokens], x[0].Device)));
    }

    /// <summary>
    /// Runs <paramref name="op"/> on both backends with the same inputs (x of <paramref name="shape0"/>, then
    /// <paramref name="more"/> shapes) and upstream gradient, and compares the output and (with
    /// <paramref name="gradients"/>) every input gradient.
    /// </summary>
    private static void Compare((int, int) label, int[] shape0, Func<Tensor[], Tensor> op, bool gradients = true, params int[][] more)
    {
        int[][] shapes = [shape0, .. more];
        var rng = new Random(shape0.Aggregate(17, (h, d) => h * 31 + d));
        float[][] data = shapes.Select(s => Enumerable.Range(0, s.Aggregate(1, (a, b) => a * b)).Select(_ => Normal(rng)).ToArray()).ToArray();
        (float[] Out, float[][] Grads) Run(Device device)
        {
            Tensor[] inputs = data.Select((d, i) =>
            {
                Tensor t = Tensor.FromArray(d, shapes[i], device);
                t.RequiresGrad = true;
                return t;
            }).ToArray();
            Tensor y = op(inputs);
            var seedRng = new Random(3);
            float[] seed = Enumerable.Range(0, (int)y.Numel).Select(_ => Normal(seedRng)).ToArray();
            y.Backward(Tensor.FromArray(seed, y.Shape.ToArray(), device));
            return (y.ToFloatArray(), inputs.Select(t => t.Grad!.ToFloatArray()).ToArray());
        }
        (float[] fastOut, float[][] fastGrads) = Run(Fast);
        (float[] plainOut, float[][] plainGrads) = Run(Plain);
        Assert.That(OpResult.RelativeError(fastOut, plainOut), Is.LessThanOrEqualTo(Tolerance), $"output at {label}");
        for (int i = 0; gradients && i < shapes.Length; i++)
            Assert.That(OpResult.RelativeError(fastGrads[i], plainGrads[i]), Is.LessThanOrEqualTo(Tolerance), $"gradient {i} at {label}");
    }

    private static float Normal(Random rng) => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
}
