using ILGPU;
using MaMA.Kernels.Reduction;

namespace MaMA.Kernels.LocalAlignment;

/// <summary>
/// Symmetric Local Alignment when the patch-sentence similarities come from GEMMs (CUDA with
/// cuBLAS; MaMA.Engine's SymmetricLocalAlignment picks it). A chunk of c images at a time:
/// sim [c P, R] = patches of those images [c P, E] times sentences^T, so the full N x N x P x S
/// similarity tensor (57 MB packed as [N, P, R] at MaMA's shape) never exists, only a bounded slice
/// of it. These kernels take the maxima of a chunk from sim and, backward, place the score gradients
/// on the selected pairs of a zeroed dsim [c P, R], which two GEMMs turn into d patches and
/// d sentences. The views a launch gets for colMax, argP, rowMax and argS start at the chunk's first
/// image, so kernel indices are chunk-local. Selections, layouts and tie rules are those of
/// <see cref="SlaScores"/>.
/// </summary>
public static partial class SlaFromSimilarity
{
    /// <summary>
    /// The t2i maxima in parts (<see cref="Runs"/>): for (chunk image c, part q,
    /// sentence row), i = (c parts + q) R + row, partMax / partArg = the maximum of sim[c P + p, row]
    /// over part q's run of patches and its patch (first on ties). One thread per column scanned all
    /// P = 1369 patches before: a chunk of 5 images at MaMA's shape gave about 1,450 threads for a
    /// whole card, each through 1,369 dependent L2 loads. count = (images in the chunk) parts R.
    /// </summary>
    [Kernel(CpuGrain = 16)]
    private static void ColumnMaxPartKernel(int i, [Extent("(long)count / parts * p")] ArrayView<float> sim,
        [Extent("count")] ArrayView<float> partMax, [Extent("count")] ArrayView<int> partArg, int p, int r, int parts)
    {
        int row = i % r;
        int imgPart = i / r;
        int img = imgPart / parts;
        int q = imgPart - img * parts;
        int p0 = Runs.Start(p, parts, q), p1 = Runs.End(p, parts, q);
        if (p0 >= p)
        {
            // An empty last part: -inf never beats an earlier part (the combine keeps the first on ties).
            partMax[i] = float.NegativeInfinity;
            partArg[i] = p0;
            return;
        }
        long at = (long)img * p * r + row;
        float best = sim[at + (long)p0 * r];
        int arg = p0;
        for (int pp = p0 + 1; pp < p1; pp++)
        {
            float d = sim[at + (long)pp * r];
            if (SlaMax.Beats(d, best))
            {
                best = d;
                arg = pp;
            }
        }
        partMax[i] = best;
        partArg[i] = arg;
    }

    /// <summary>
    /// colMax[c, row] = max over p of sim[c P + p, row] and argP its patch, from the parts in
    /// patch order: a later part replaces the best only when it beats it (<see cref="SlaMax.Beats(float, float)"/>),
    /// so ties keep the first patch and NaN the first NaN, as one scan would. count = (images in the chunk) R.
    /// </summary>
    [Kernel(CpuGrain = 16)]
    private static void ColumnMaxKernel(int i, [Extent("(long)count * parts")] ArrayView<float> partMax, [Extent("(long)count * parts")] ArrayView<int> partArg,
        [Extent("count")] ArrayView<float> colMax, [Extent("count")] ArrayView<int> argP, int r, int parts)
    {
        int img = i / r;
        int row = i - img * r;
        long at = (long)img * parts * r + row;
        float best = partMax[at];
        int arg = partArg[at];
        for (int q = 1; q < parts; q++)
        {
            float d = partMax[at + (long)q * r];
            if (SlaMax.Beats(d, best))
            {
                best = d;
                arg = partArg[at + (long)q * r];
            }
        }
        colMax[i] = best;
        argP[i] = arg;
    }

    /// <summary>
    /// For (chunk image c, patch p, report m), i = (c P + p) N + m: rowMax = max over the report's sentence
    /// rows of sim[c P + p, row], argS the local sentence index (first on ties). count = (images in the chunk) P N.
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void RowMaxKernel(int i, [Extent("(long)count / n * r")] ArrayView<float> sim, [Extent("n + 1")] ArrayView<int> offsets,
        [Extent("count")] ArrayView<float> rowMax, [Extent("count")] ArrayView<int> argS, int n, int r)
    {
        int m = i % n;
        long at = (long)(i / n) * r;
        int start = offsets[m], end = offsets[m + 1];
        float best = sim[at + start];
        int arg = 0;
        for (int row = start + 1; row < end; row++)
        {
            float d = sim[at + row];
            if (SlaMax.Beats(d, best))
            {
                best = d;
                arg = row - start;
            }
        }
        rowMax[i] = best;
        argS[i] = arg;
    }

    /// <summary>
    /// t2i backward, one index per (chunk image c, sentence row): dsim[c P + argP, row] += dt2i[m, n] / S_m
    /// with n = firstImage + c and m the row's report (gScores = d scores [2, N, N]). Each index owns a
    /// different element. count = (images in the chunk) R.
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void ScatterTextToImageKernel(int i, [Extent("(long)count * p")] ArrayView<float> dsim, [Extent("count")] ArrayView<int> argP,
        [Extent("n + 1")] ArrayView<int> offsets, [Extent("r")] ArrayView<int> reportOf, [Extent("2 * n * n")] ArrayView<float> gScores,
        int n, int p, int r, int firstImage)
    {
        int img = i / r;
        int row = i - img * r;
        int m = reportOf[row];
        float g = gScores[m * n + firstImage + img] / (offsets[m + 1] - offsets[m]);
        dsim[((long)img * p + argP[i]) * r + row] += g;
    }

    /// <summary>
    /// i2t backward, one index per (chunk image c, patch p, report m): dsim[c P + p, offsets[m] + argS] +=
    /// di2t[m, n] / P with n = firstImage + c. Each index owns a different element (reports own
    /// disjoint rows). count = (images in the chunk) P N.
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void ScatterImageToTextKernel(int i, [Extent("(long)count / n * r")] ArrayView<float> dsim, [Extent("count")] ArrayView<int> argS,
        [Extent("n + 1")] ArrayView<int> offsets, [Extent("2 * n * n")] ArrayView<float> gScores, int n, int p, int r, int firstImage)
    {
        int m = i % n;
        int patchRow = i / n;
        int img = firstImage + patchRow / p;
        float g = gScores[n * n + m * n + img] / p;
        dsim[(long)patchRow * r + offsets[m] + argS[i]] += g;
    }
}
