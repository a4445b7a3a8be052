using MaMA.Engine.Tensors;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Bicubic resize of the last two axes of x [..., H, W] (e.g. [C, H, W] or [N, C, H, W]) to
    /// [..., outH, outW], matching torch.nn.functional.interpolate(mode: bicubic,
    /// align_corners: false, antialias). Bicubic resampling is separable and linear, so it is two
    /// matmuls with interpolation matrices built on the host: y = Wh @ x @ Ww^T, Wh [outH, H] and
    /// Ww [outW, W]; the gradient flows back through the matmuls. Used to resample the ViT
    /// position-embedding grid (37 x 37 for 518 px DINOv2) to other image sizes.
    /// </summary>
    public static Tensor ResizeBicubic(Tensor x, int outH, int outW, bool antialias = true)
    {
        Dispatch.RequireFloat("resize_bicubic", x);
        if (x.Rank < 2) throw new ArgumentException($"resize_bicubic needs x of shape [..., H, W], got {Shape.Format(x.Shape)}.");
        if (outH < 1 || outW < 1) throw new ArgumentOutOfRangeException(nameof(outH), $"resize_bicubic: output size {outH}x{outW} must be positive.");
        int h = x.Shape[^2], w = x.Shape[^1];
        if (h < 1 || w < 1) throw new ArgumentException($"resize_bicubic: input {Shape.Format(x.Shape)} has an empty spatial axis.");
        Tensor wh = Tensor.FromArray(BicubicMatrix(h, outH, antialias), [outH, h], x.Device);
        Tensor ww = Tensor.FromArray(BicubicMatrix(w, outW, antialias), [outW, w], x.Device);
        return MatMul(MatMul(wh, x), ww, transposeB: true);
    }

    /// <summary>
    /// The [outSize, inSize] row-major matrix of 1-D bicubic resampling weights, as PyTorch computes
    /// them with align_corners = false and the scale inSize / outSize.
    /// <para>Without antialias (upsample_bicubic2d): source coordinate s = scale (i + 0.5) - 0.5, the
    /// four taps floor(s) - 1 .. floor(s) + 2 with Keys' cubic convolution weights (a = -0.75), taps
    /// outside the image clamped to the border pixel (their weights pile up there).</para>
    /// <para>With antialias (_upsample_bicubic2d_aa, PIL-style): the cubic kernel with a = -0.5,
    /// widened by the scale when downsampling (support 2 * max(scale, 1), argument divided by
    /// max(scale, 1)), centred at scale (i + 0.5), truncated to the image and normalised to sum 1.</para>
    /// </summary>
    internal static float[] BicubicMatrix(int inSize, int outSize, bool antialias)
    {
        var m = new double[(long)outSize * inSize];
        double scale = (double)inSize / outSize;
        if (antialias)
        {
            double stretch = Math.Max(scale, 1.0);
            double support = 2.0 * stretch;
            for (int i = 0; i < outSize; i++)
            {
                double center = scale * (i + 0.5);
                // Bounds truncate toward zero like PyTorch's int64 casts.
                int lo = Math.Max((int)Math.Truncate(center - support + 0.5), 0);
                int hi = Math.Min((int)Math.Truncate(center + support + 0.5), inSize);
                double total = 0;
                for (int j = lo; j < hi; j++)
                {
                    double v = Cubic((j - center + 0.5) / stretch, -0.5);
                    m[(long)i * inSize + j] = v;
                    total += v;
                }
                if (total != 0)
                    for (int j = lo; j < hi; j++) m[(long)i * inSize + j] /= total;
            }
        }
        else
        {
            for (int i = 0; i < outSize; i++)
            {
                double source = scale * (i + 0.5) - 0.5;
                double floor = Math.Floor(source);
                double t = source - floor;
                for (int k = 0; k < 4; k++)
                {
                    int tap = Math.Clamp((int)floor - 1 + k, 0, inSize - 1);
                    m[(long)i * inSize + tap] += Cubic(t + 1 - k, -0.75);
                }
            }
        }
        return Array.ConvertAll(m, v => (float)v);
    }

    /// <summary>Keys' cubic convolution kernel with parameter <paramref name="a"/>, support [-2, 2].</summary>
    private static double Cubic(double x, double a)
    {
        x = Math.Abs(x);
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0;
    }
}
