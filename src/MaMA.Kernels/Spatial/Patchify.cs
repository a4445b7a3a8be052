using ILGPU;

namespace MaMA.Kernels.Spatial;

/// <summary>
/// im2col for non-overlapping k x k patches (a convolution with kernel = stride = k, the ViT patch
/// embedding). x is a contiguous [b, cin, h, w] buffer; the gh x gw = (h / k) x (w / k) patch grid
/// gives cols [b * gh * gw, cin * k * k], row = (b, py, px) row-major, column = (ci, ky, kx)
/// row-major (the layout of a flattened [E, cin, k, k] conv weight). Trailing pixels that do not
/// fill a patch are dropped, as conv2d does. Because patches never overlap, col2im is a gather too.
/// </summary>
public static partial class Patchify
{
    /// <summary>cols[i] = x[b, ci, py * k + ky, px * k + kx] over count = b * gh * gw * cin * k * k.</summary>
    [Kernel]
    private static void ForwardKernel(int i, ArrayView<float> x, [Extent("count")] ArrayView<float> cols, int cin, int h, int w, int k, int gh, int gw)
    {
        int kk = k * k;
        int patchLength = cin * kk;
        int row = i / patchLength;
        int col = i - row * patchLength;
        int patches = gh * gw;
        int b = row / patches;
        int p = row - b * patches;
        int py = p / gw;
        int px = p - py * gw;
        int ci = col / kk;
        int r = col - ci * kk;
        int ky = r / k;
        int kx = r - ky * k;
        cols[i] = x[(((long)b * cin + ci) * h + py * k + ky) * w + px * k + kx];
    }

    /// <summary>dx[b, ci, y, x] = dcols[(b, y / k, x / k), (ci, y % k, x % k)], 0 outside the patch grid; count = b * cin * h * w.</summary>
    [Kernel]
    private static void BackwardKernel(int i, ArrayView<float> dcols, [Extent("count")] ArrayView<float> dx, int cin, int h, int w, int k, int gh, int gw)
    {
        int xx = i % w;
        int rest = i / w;
        int yy = rest % h;
        rest /= h;
        int ci = rest % cin;
        int b = rest / cin;
        int py = yy / k, ky = yy - py * k;
        int px = xx / k, kx = xx - px * k;
        if (py >= gh || px >= gw)
        {
            dx[i] = 0f;
            return;
        }
        long row = ((long)b * gh + py) * gw + px;
        dx[i] = dcols[row * cin * k * k + (ci * k + ky) * k + kx];
    }
}
