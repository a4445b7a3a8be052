using ILGPU;
using MaMA.Kernels.Reduction;

namespace MaMA.Kernels.LocalAlignment;

/// <summary>
/// Symmetric Local Alignment scores without the N x N x P x S similarity tensor (portable ILGPU
/// path; the fast CPU path is <see cref="Cpu.LocalAlignmentCpu"/>). Image n has patch rows
/// patches[n, p, :] ([N, P, E]); report m owns the packed sentence rows offsets[m]..offsets[m+1]
/// of sentences [R, E] (R = sum S_m). sim(n, m, p, s) = patches[n, p] . sentences[offsets[m] + s].
/// <list type="bullet">
///   <item>t2i[m, n] = mean over s of max over p; the winning patch of (image n, sentence row r)
///         is kept in argP [N, R] (layout [n][r]).</item>
///   <item>i2t[m, n] = mean over p of max over s; the winning local sentence index of
///         (image n, patch p, report m) is kept in argS [N, P, N] (layout [n][p][m]).</item>
/// </list>
/// Scores are written stacked as [2, N, N]: scores[0] = t2i, scores[1] = i2t (rows reports,
/// columns images). The backward spreads dt2i[m, n] / S_m to each selected (p*, s) pair and
/// di2t[m, n] / P to each (p, s*) pair. Ties in a max keep the first index; NaN wins (<see cref="SlaMax"/>).
/// </summary>
public static partial class SlaScores
{
    /// <summary>
    /// t2i side, one index per (image n, sentence row r): colMax[n, r] = max over p of sim,
    /// argP[n, r] = its patch. count = N * R.
    /// </summary>
    [Kernel(CpuGrain = 16)]
    private static void ColumnMaxKernel(int i, [Extent("(long)n * p * e")] ArrayView<float> patches, [Extent("(long)r * e")] ArrayView<float> sentences,
        [Extent("count")] ArrayView<float> colMax, [Extent("count")] ArrayView<int> argP, int n, int p, int r, int e)
    {
        int img = i / r;
        int row = i - img * r;
        long patchBase = (long)img * p * e;
        long sentenceBase = (long)row * e;
        float best = Dot(patches, patchBase, sentences, sentenceBase, e);
        int arg = 0;
        for (int pp = 1; pp < p; pp++)
        {
            float d = Dot(patches, patchBase + (long)pp * e, sentences, sentenceBase, e);
            if (SlaMax.Beats(d, best))
            {
                best = d;
                arg = pp;
            }
        }
        colMax[i] = best;
        argP[i] = arg;
    }

    /// <summary>
    /// i2t side, one index per (image n, patch p, report m) in that order: rowMax = max over the
    /// report's sentences of sim, argS = the local sentence index. count = N * P * N.
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void RowMaxKernel(int i, [Extent("(long)n * p * e")] ArrayView<float> patches, [Extent("(long)r * e")] ArrayView<float> sentences,
        [Extent("n + 1")] ArrayView<int> offsets, [Extent("count")] ArrayView<float> rowMax, [Extent("count")] ArrayView<int> argS, int n, int p, int r, int e)
    {
        int m = i % n;
        int patchRow = i / n; // img * p + pp
        long patchBase = (long)patchRow * e;
        int start = offsets[m], end = offsets[m + 1];
        float best = Dot(patches, patchBase, sentences, (long)start * e, e);
        int arg = 0;
        for (int row = start + 1; row < end; row++)
        {
            float d = Dot(patches, patchBase, sentences, (long)row * e, e);
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
    /// i2t's sums in parts (<see cref="Runs"/>): for (image n, part q, report m),
    /// i = (n parts + q) N + m, partSum = the sum of rowMax[n, p, m] over part q's run of patches
    /// (0 for an empty last part). count = N * parts * N.
    /// </summary>
    [Kernel(CpuGrain = 8)]
    private static void ImageToTextPartKernel(int i, [Extent("(long)count / parts * p")] ArrayView<float> rowMax, [Extent("count")] ArrayView<float> partSum,
        int n, int p, int parts)
    {
        int m = i % n;
        int imgPart = i / n;
        int img = imgPart / parts;
        int q = imgPart - img * parts;
        int p0 = Runs.Start(p, parts, q), p1 = Runs.End(p, parts, q);
        float sum = 0f;
        for (int pp = p0; pp < p1; pp++) sum += rowMax[((long)img * p + pp) * n + m];
        partSum[i] = sum;
    }

    /// <summary>
    /// One index per (report m, image n): scores[0, m, n] = mean over the report's rows of
    /// colMax[n, row], scores[1, m, n] = mean over p of rowMax[n, p, m] from its part sums
    /// (<see cref="ImageToTextPartKernel"/>), added in part order. count = N * N.
    /// </summary>
    [Kernel(CpuGrain = 8)]
    private static void ReduceKernel(int i, [Extent("(long)n * r")] ArrayView<float> colMax, [Extent("(long)n * parts * n")] ArrayView<float> partSum,
        [Extent("n + 1")] ArrayView<int> offsets, [Extent("2 * count")] ArrayView<float> scores, int n, int p, int r, int parts)
    {
        int m = i / n;
        int img = i - m * n;
        int start = offsets[m], end = offsets[m + 1];
        float t2i = 0f;
        for (int row = start; row < end; row++) t2i += colMax[(long)img * r + row];
        float i2t = 0f;
        for (int q = 0; q < parts; q++) i2t += partSum[((long)img * parts + q) * n + m];
        scores[i] = t2i / (end - start);
        scores[n * n + i] = i2t / p;
    }

    /// <summary>
    /// d patches, one index per element (n, p, e): sum over reports m of di2t[m, n] / P times the
    /// sentence row that patch p selected, plus dt2i[m, n] / S_m times every sentence row of m
    /// whose selected patch is p. gScores is d scores [2, N, N]. count = N * P * E.
    /// </summary>
    [Kernel]
    private static void PatchGradKernel(int i, [Extent("(long)r * e")] ArrayView<float> sentences, [Extent("n + 1")] ArrayView<int> offsets,
        [Extent("(long)n * r")] ArrayView<int> argP, [Extent("(long)n * p * n")] ArrayView<int> argS, [Extent("2 * n * n")] ArrayView<float> gScores,
        [Extent("count")] ArrayView<float> dPatches, int n, int p, int r, int e)
    {
        int col = i % e;
        int patchRow = i / e; // img * p + pp
        int img = patchRow / p;
        int pp = patchRow - img * p;
        float invP = 1f / p;
        float acc = 0f;
        for (int m = 0; m < n; m++)
        {
            int start = offsets[m], end = offsets[m + 1];
            float gI = gScores[n * n + m * n + img] * invP;
            int selected = start + argS[(long)patchRow * n + m];
            acc += gI * sentences[(long)selected * e + col];
            float gT = gScores[m * n + img] / (end - start);
            for (int row = start; row < end; row++)
                if (argP[(long)img * r + row] == pp) acc += gT * sentences[(long)row * e + col];
        }
        dPatches[i] = acc;
    }

    /// <summary>
    /// d sentences, one index per element (row, e) of report m, local index s: sum over images n of
    /// dt2i[m, n] / S_m times the patch that row selected, plus di2t[m, n] / P times every patch of
    /// image n that selected s. count = R * E.
    /// </summary>
    [Kernel]
    private static void SentenceGradKernel(int i, [Extent("(long)n * p * e")] ArrayView<float> patches, [Extent("n + 1")] ArrayView<int> offsets,
        [Extent("count / e")] ArrayView<int> reportOf, [Extent("(long)n * r")] ArrayView<int> argP, [Extent("(long)n * p * n")] ArrayView<int> argS,
        [Extent("2 * n * n")] ArrayView<float> gScores, [Extent("count")] ArrayView<float> dSentences, int n, int p, int r, int e)
    {
        int col = i % e;
        int row = i / e;
        int m = reportOf[row];
        int start = offsets[m], end = offsets[m + 1];
        int s = row - start;
        float invS = 1f / (end - start);
        float invP = 1f / p;
        float acc = 0f;
        for (int img = 0; img < n; img++)
        {
            float gT = gScores[m * n + img] * invS;
            int selected = argP[(long)img * r + row];
            acc += gT * patches[((long)img * p + selected) * e + col];
            float gI = gScores[n * n + m * n + img] * invP;
            if (gI != 0f)
            {
                for (int pp = 0; pp < p; pp++)
                    if (argS[((long)img * p + pp) * n + m] == s) acc += gI * patches[((long)img * p + pp) * e + col];
            }
        }
        dSentences[i] = acc;
    }

    /// <summary>a[aOffset .. aOffset + e) . b[bOffset .. bOffset + e), accumulated in order.</summary>
    [DeviceFunction]
    private static float Dot(ArrayView<float> a, long aOffset, ArrayView<float> b, long bOffset, int e)
    {
        float sum = 0f;
        for (int k = 0; k < e; k++) sum += a[aOffset + k] * b[bOffset + k];
        return sum;
    }
}
