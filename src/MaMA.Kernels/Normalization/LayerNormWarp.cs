using ILGPU;
using ILGPU.Runtime;
using MaMA.Kernels.Rows;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Normalization;

/// <summary>
/// Layer normalisation with one warp per row (<see cref="WarpRows"/>), for CUDA: the 32 lanes read
/// a row's c values in coalesced 128-byte steps and combine their partial sums by butterfly
/// shuffles, where the generated <see cref="LayerNorm"/> kernels give each row to one thread
/// (neighbouring threads then read addresses c floats apart: a whole cache line per element
/// fetched). The same results as <see cref="LayerNorm"/> up to summation order: mean and biased
/// variance in two passes, rstd = 1/sqrt(var + eps), saved for the backward. Lane l reads columns
/// l, l + 32, ... (c need not be a multiple of 32).
/// </summary>
public static class LayerNormWarp
{
    private static readonly Dictionary<Accelerator, (ForwardLauncher Forward, BackwardLauncher Backward)> s_kernels = new();

    private static long s_launches;

    /// <summary>Kernel launches so far in this process (tests check which row form really ran).</summary>
    public static long Launches => Interlocked.Read(ref s_launches);

    private delegate void ForwardLauncher(AcceleratorStream stream, KernelConfig config, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> y, ArrayView<ushort> y16, ArrayView<float> mean, ArrayView<float> rstd, int rows, int c, float eps, int hasWeight, int hasBias, int bf16Out);

    private delegate void BackwardLauncher(AcceleratorStream stream, KernelConfig config, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> dy,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dx, int rows, int c, int hasWeight);

    /// <summary>y = (x - mean) rstd w + b per row of a contiguous [rows, c] x; mean, rstd [rows] saved. Empty weight / bias views: none.</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int c, float eps)
    {
        Check(x.Length, y.Length, mean.Length, rstd.Length, weight.Length, rows, c);
        if (bias.Length != 0 && bias.Length < c) throw new ArgumentException($"layer norm: bias has {bias.Length} elements, c is {c}.", nameof(bias));
        if (rows == 0) return;
        int hasWeight = weight.Length > 0 ? 1 : 0, hasBias = bias.Length > 0 ? 1 : 0;
        if (hasWeight == 0) weight = x; // kernels take every view; the flags keep them unread
        if (hasBias == 0) bias = x;
        ArrayView<ushort> unused16 = mean.Cast<ushort>();
        Run(stream, rows, (launch, s, config) => launch.Forward(s, config, x, weight, bias, y, unused16, mean, rstd, rows, c, eps, hasWeight, hasBias, 0));
    }

    /// <summary>
    /// The same with the output rounded to bf16 in the kernel (<paramref name="y16"/>): layer norm
    /// feeding a product under bf16 autocast, which would round it anyway.
    /// </summary>
    public static void ForwardBf16(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<ushort> y16,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int c, float eps)
    {
        Check(x.Length, y16.Length, mean.Length, rstd.Length, weight.Length, rows, c);
        if (bias.Length != 0 && bias.Length < c) throw new ArgumentException($"layer norm: bias has {bias.Length} elements, c is {c}.", nameof(bias));
        if (rows == 0) return;
        int hasWeight = weight.Length > 0 ? 1 : 0, hasBias = bias.Length > 0 ? 1 : 0;
        if (hasWeight == 0) weight = x;
        if (hasBias == 0) bias = x;
        Run(stream, rows, (launch, s, config) => launch.Forward(s, config, x, weight, bias, mean, y16, mean, rstd, rows, c, eps, hasWeight, hasBias, 1));
    }

    /// <summary>dx = rstd (g - mean_j g - xhat mean_j(g xhat)) with g = dy w (dy without a weight), per row.</summary>
    public static void BackwardInput(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> dy,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dx, int rows, int c)
    {
        Check(x.Length, dx.Length, mean.Length, rstd.Length, weight.Length, rows, c);
        if (dy.Length < (long)rows * c) throw new ArgumentException($"layer norm backward: dy has {dy.Length} elements, rows x c is {(long)rows * c}.", nameof(dy));
        if (rows == 0) return;
        int hasWeight = weight.Length > 0 ? 1 : 0;
        if (hasWeight == 0) weight = x;
        Run(stream, rows, (launch, s, config) => launch.Backward(s, config, x, weight, dy, mean, rstd, dx, rows, c, hasWeight));
    }

    private static void Check(long xLength, long outLength, long meanLength, long rstdLength, long weightLength, int rows, int c)
    {
        if (rows < 0 || c < 1) throw new ArgumentOutOfRangeException(nameof(rows), $"layer norm: rows {rows} and c {c} (c >= 1).");
        long n = (long)rows * c;
        if (xLength < n || outLength < n) throw new ArgumentException($"layer norm: the [rows, c] buffers need {n} elements, got {xLength} and {outLength}.");
        if (meanLength < rows || rstdLength < rows) throw new ArgumentException($"layer norm: mean and rstd need {rows} elements.");
        if (weightLength != 0 && weightLength < c) throw new ArgumentException($"layer norm: weight has {weightLength} elements, c is {c}.");
    }

    private static void Run(AcceleratorStream stream, int rows, Action<(ForwardLauncher Forward, BackwardLauncher Backward), AcceleratorStream, KernelConfig> launch)
    {
        Interlocked.Increment(ref s_launches);
        WarpRows.Run(stream, rows, (target, s, config) => launch(Kernels(target), s, config));
    }

    private static (ForwardLauncher Forward, BackwardLauncher Backward) Kernels(Accelerator accelerator)
    {
        lock (s_kernels)
        {
            if (!s_kernels.TryGetValue(accelerator, out var kernels))
            {
                var forward = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>,
                    ArrayView<float>, int, int, float, int, int, int>(ForwardKernel);
                var backward = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    int, int, int>(BackwardInputKernel);
                kernels = (new ForwardLauncher(forward.Invoke), new BackwardLauncher(backward.Invoke));
                s_kernels[accelerator] = kernels;
            }
            return kernels;
        }
    }

    /// <summary>The forward for the warp's row (an explicitly grouped kernel); with <paramref name="bf16Out"/> nonzero the row goes to <paramref name="y16"/> in bf16.</summary>
    public static void ForwardKernel(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y, ArrayView<ushort> y16,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int c, float eps, int hasWeight, int hasBias, int bf16Out)
    {
        int lane = WarpRows.Lane(), row = WarpRows.Row();
        if (row >= rows) return; // the whole warp leaves: no shuffle misses a lane
        long start = (long)row * c;
        float sum = 0f;
        for (int j = lane; j < c; j += WarpRows.WarpSize) sum += x[start + j];
        float mu = WarpRows.Sum(sum) / c;
        float sq = 0f;
        for (int j = lane; j < c; j += WarpRows.WarpSize)
        {
            float d = x[start + j] - mu;
            sq += d * d;
        }
        float rs = 1f / MathF.Sqrt(WarpRows.Sum(sq) / c + eps);
        if (lane == 0)
        {
            mean[row] = mu;
            rstd[row] = rs;
        }
        for (int j = lane; j < c; j += WarpRows.WarpSize)
        {
            float v = (x[start + j] - mu) * rs;
            if (hasWeight != 0) v *= weight[j];
            if (hasBias != 0) v += bias[j];
            if (bf16Out != 0) y16[start + j] = Bf16.FromFloat(v);
            else y[start + j] = v;
        }
    }

    /// <summary>The input gradient for the warp's row (an explicitly grouped kernel).</summary>
    public static void BackwardInputKernel(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> dy, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dx, int rows, int c, int hasWeight)
    {
        int lane = WarpRows.Lane(), row = WarpRows.Row();
        if (row >= rows) return;
        long start = (long)row * c;
        float mu = mean[row], rs = rstd[row];
        float sumG = 0f, sumGx = 0f;
        for (int j = lane; j < c; j += WarpRows.WarpSize)
        {
            float g = dy[start + j];
            if (hasWeight != 0) g *= weight[j];
            sumG += g;
            sumGx += g * (x[start + j] - mu) * rs;
        }
        float meanG = WarpRows.Sum(sumG) / c, meanGx = WarpRows.Sum(sumGx) / c;
        for (int j = lane; j < c; j += WarpRows.WarpSize)
        {
            float g = dy[start + j];
            if (hasWeight != 0) g *= weight[j];
            float xhat = (x[start + j] - mu) * rs;
            dx[start + j] = rs * (g - meanG - xhat * meanGx);
        }
    }
}
