using ILGPU;
using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using SimKernels = MaMA.Kernels.LocalAlignment.SlaFromSimilarity;
using SlaKernels = MaMA.Kernels.LocalAlignment.SlaScores;

namespace MaMA.Engine.Losses;

/// <summary>
/// The four outputs of <see cref="Losses.SymmetricLocalAlignment"/>, all differentiable.
/// </summary>
/// <param name="LossT2I">CE(l t2i) + CE(l t2i^T), 0-d.</param>
/// <param name="LossI2T">CE(l i2t) + CE(l i2t^T), 0-d.</param>
/// <param name="T2I">[N, N] (rows reports, columns images): mean over sentences of the max over patches, before scaling.</param>
/// <param name="I2T">[N, N] (rows reports, columns images): mean over patches of the max over sentences, before scaling.</param>
public sealed record SymmetricLocalAlignmentResult(Tensor LossT2I, Tensor LossI2T, Tensor T2I, Tensor I2T);

public static partial class Losses
{
    private const string SlaOp = "sla_loss";

    /// <summary>
    /// How SLA runs on ILGPU devices. <see cref="GemmForm.Auto"/> (the default) takes the GEMM form on
    /// GPUs (<see cref="GemmForm"/>): for a chunk of images at a time (<see cref="SlaChunkElements"/>), the
    /// similarities of their patches with every sentence row as one GEMM, the maxima from it, and
    /// backward two GEMMs from a sparse dsim; the whole N x N x P x S tensor never exists. On an H200
    /// the per-row kernels took 419 ms forward where PyTorch eager takes 0.9 ms.
    /// Tests set <see cref="GemmForm.Gemm"/> to check it on the CPU simulator.
    /// </summary>
    public static GemmForm LocalAlignment { get; set; } = GemmForm.Auto;

    /// <summary>
    /// Similarities one chunk of the GEMM form may hold: 16 Mi (64 MB), so MaMA's micro-batch (36
    /// images, about 290 sentence rows: 57 MB) is one GEMM and one pass of each reduction. It was
    /// 2 Mi (5 images a chunk): 8 small GEMMs, each followed by a latency-bound pass of the maxima. Tests make it small.
    /// </summary>
    internal static long SlaChunkElements { get; set; } = 16L << 20;

    private static int SlaChunkImages(int n, int p, int r) => (int)Math.Clamp(SlaChunkElements / Math.Max(1L, (long)p * r), 1, n);

    /// <summary>
    /// Symmetric Local Alignment (SLA, SPEC section 6) for a micro-batch of N image-report pairs.
    /// Image n has patch embeddings p_n [P, E], report m has sentence embeddings q_m [S_m, E] (S_m
    /// varies; packed as rows offsets[m]..offsets[m+1] of one [sum S, E] tensor). With
    /// sim[n, m, p, s] = p_n[p] . q_m[s]:
    /// <code>
    /// t2i[m, n] = mean_s max_p sim      i2t[m, n] = mean_p max_s sim
    /// L_t2i = CE(l t2i) + CE(l t2i^T)   L_i2t = CE(l i2t) + CE(l i2t^T),   l = exp(local_scale)
    /// </code>
    /// CE = mean over rows of -log softmax(row)[i] (targets on the diagonal). Embeddings are used as
    /// given (the caller normalises).
    /// <para>
    /// The N x N x P x S similarity tensor is never built: fused kernels compute similarity tiles
    /// blockwise and reduce them on the fly, keeping only the winners' indices for the backward:
    /// argP [N, sum S] and argS [N, P, N] int32, i.e. N (sum S + N P) * 4 bytes (about 7 MB at
    /// N = 36, P = 1369, S &lt;= 12, against 85 MB for the padded similarity tensor; the ILGPU
    /// path also holds the [N, P, N] fp32 row maxima during the forward). The backward
    /// spreads dt2i[m, n] / S_m to each (argmax patch, sentence) pair and di2t[m, n] / P to each
    /// (patch, argmax sentence) pair. The cross-entropies and the scale are ordinary ops
    /// (<see cref="Ops.Exp"/>, <see cref="Ops.Mul"/>, <see cref="Ops.CrossEntropy"/>), so local_scale
    /// gets its gradient through l = exp(local_scale).
    /// </para>
    /// <para>
    /// <paramref name="patches"/> [N, P, E] and <paramref name="sentences"/> [sum S, E] (any
    /// floating dtype, computed in fp32; bf16 ones, as under autocast, are kept in bf16 for the
    /// backward, and on CUDA in the GEMM form their similarities run on the tensor cores), <paramref name="sentenceOffsets"/> [N + 1] int64 or int32
    /// (0 first, sum S last, every S_m &gt;= 1), <paramref name="localScale"/> a one-element
    /// floating tensor holding the log-scale.
    /// </para>
    /// </summary>
    public static SymmetricLocalAlignmentResult SymmetricLocalAlignment(Tensor patches, Tensor sentences, Tensor sentenceOffsets, Tensor localScale)
    {
        Dispatch.RequireFloat(SlaOp, localScale);
        if (localScale.Numel != 1)
            throw new ArgumentException($"{SlaOp}: local_scale must hold one value (a 0-d tensor), got shape {Shape.Format(localScale.Shape)}.", nameof(localScale));
        Dispatch.SameDevice(SlaOp, patches, localScale);
        (Tensor t2i, Tensor i2t) = LocalAlignmentScores(patches, sentences, sentenceOffsets);
        int n = t2i.Shape[0];
        Tensor scale = Ops.Exp(localScale.Rank == 0 ? localScale : Ops.Reshape(localScale));
        long[] targets = Enumerable.Range(0, n).Select(i => (long)i).ToArray(); // host ids: no upload and read-back per cross-entropy
        Tensor lossT2I = SlaSymmetricCrossEntropy(Ops.Mul(t2i, scale), targets);
        Tensor lossI2T = SlaSymmetricCrossEntropy(Ops.Mul(i2t, scale), targets);
        return new SymmetricLocalAlignmentResult(lossT2I, lossI2T, t2i, i2t);
    }

    /// <summary>
    /// t2i and i2t [N, N] (rows reports, columns images), unscaled, differentiable with respect to
    /// patches and sentences. Arguments as in <see cref="SymmetricLocalAlignment"/>.
    /// </summary>
    public static unsafe (Tensor T2I, Tensor I2T) LocalAlignmentScores(Tensor patches, Tensor sentences, Tensor sentenceOffsets)
    {
        if (Autocast.Lowers(patches, sentences)) return LocalAlignmentScores(Autocast.Lower(patches), Autocast.Lower(sentences), sentenceOffsets);
        Dispatch.SameDevice(SlaOp, patches, sentences, sentenceOffsets);
        Dispatch.RequireFloat(SlaOp, patches);
        Dispatch.RequireFloat(SlaOp, sentences);
        if (patches.Rank != 3)
            throw new ArgumentException($"{SlaOp}: patches must be [N, P, E], got {Shape.Format(patches.Shape)}.", nameof(patches));
        if (sentences.Rank != 2 || sentences.Shape[1] != patches.Shape[2])
            throw new ArgumentException($"{SlaOp}: sentences must be [sum S, {patches.Shape[2]}] for patches {Shape.Format(patches.Shape)}, got {Shape.Format(sentences.Shape)}.", nameof(sentences));
        int n = patches.Shape[0], p = patches.Shape[1], e = patches.Shape[2], r = sentences.Shape[0];
        if (n == 0 || p == 0 || e == 0)
            throw new ArgumentException($"{SlaOp}: patches {Shape.Format(patches.Shape)} are empty.", nameof(patches));
        int[] offsets = SlaReadOffsets(sentenceOffsets, n, r);
        var reportOf = new int[r];
        for (int m = 0; m < n; m++)
            for (int row = offsets[m]; row < offsets[m + 1]; row++) reportOf[row] = m;

        Device device = patches.Device;
        // 16-bit inputs (bf16 under autocast) are kept for the backward as they are, half the bytes of
        // fp32 copies, and widened only where fp32 is computed. On CUDA and the simulator in the GEMM
        // form, bf16 ones go straight into the similarity GEMM (bf16 tensor cores, fp32 accumulation).
        bool sixteen = patches.DType != DType.Float32 && sentences.DType == patches.DType;
        bool tensorCores = sixteen && patches.DType == DType.BFloat16 && device is IlgpuDevice accelerator
            && Ops.UsesTensorCores(device, DType.BFloat16, DType.BFloat16) && LocalAlignment.UsesGemm(accelerator.Stream);
        Tensor ps, ss;
        Tensor? pf = null, sf = null;
        using (GradMode.NoGrad())
        {
            ps = sixteen ? patches.Contiguous() : Dispatch.F32(patches);
            ss = sixteen ? sentences.Contiguous() : Dispatch.F32(sentences);
            if (!tensorCores)
            {
                pf = Dispatch.F32(ps);
                sf = Dispatch.F32(ss);
            }
        }
        Tensor offsetsOnDevice = Tensor.FromArray(offsets, [n + 1], device);
        Tensor reportOnDevice = Tensor.FromArray(reportOf, [r], device);
        Tensor scores = Tensor.Empty([2, n, n], DType.Float32, device);
        Tensor argP = Tensor.Empty([n, r], DType.Int32, device);
        Tensor argS = Tensor.Empty([n, p, n], DType.Int32, device);
        Dispatch.Run(device,
            cpu: () => LocalAlignmentCpu.Forward(n, p, r, e, pf!.Ptr<float>(), sf!.Ptr<float>(), offsetsOnDevice.Ptr<int>(), scores.Ptr<float>(), argP.Ptr<int>(), argS.Ptr<int>()),
            ilgpu: s =>
            {
                using Tensor colMax = Tensor.Empty([n, r], DType.Float32, device);
                using Tensor rowMax = Tensor.Empty([n, p, n], DType.Float32, device);
                // Reductions over the P patches run in parts, one thread per part, then in order (Runs).
                int parts = MaMA.Kernels.Reduction.Runs.For(p);
                if (LocalAlignment.UsesGemm(s))
                {
                    // Per chunk of images: sim [c P, R] = their patches sentences^T by one GEMM (cuBLAS on CUDA), then the maxima from it.
                    int chunk = SlaChunkImages(n, p, r);
                    using Tensor sim = Tensor.Empty([chunk * p, r], DType.Float32, device);
                    using Tensor partMax = Tensor.Empty([chunk, parts, r], DType.Float32, device);
                    using Tensor partArg = Tensor.Empty([chunk, parts, r], DType.Int32, device);
                    for (int img0 = 0; img0 < n; img0 += chunk)
                    {
                        int c = Math.Min(chunk, n - img0);
                        if (tensorCores)
                            DeviceGemm.RunBf16(s, 1, c * p, r, e, ps.View<ushort>().SubView((long)img0 * p * e, (long)c * p * e), 0, e, 1,
                                ss.View<ushort>(), 0, 1, e, sim.View<float>());
                        else
                            DeviceGemm.Run(s, 1, c * p, r, e, pf!.View<float>().SubView((long)img0 * p * e, (long)c * p * e), 0, e, 1,
                                sf!.View<float>(), 0, 1, e, sim.View<float>());
                        SimKernels.ColumnMaxPart.Launch(s, checked(c * parts * r), sim.View<float>(), partMax.View<float>(), partArg.View<int>(), p, r, parts);
                        SimKernels.ColumnMax.Launch(s, checked(c * r), partMax.View<float>(), partArg.View<int>(),
                            colMax.View<float>().SubView((long)img0 * r, (long)c * r), argP.View<int>().SubView((long)img0 * r, (long)c * r), r, parts);
                        SimKernels.RowMax.Launch(s, checked(c * p * n), sim.View<float>(), offsetsOnDevice.View<int>(),
                            rowMax.View<float>().SubView((long)img0 * p * n, (long)c * p * n), argS.View<int>().SubView((long)img0 * p * n, (long)c * p * n), n, r);
                    }
                }
                else
                {
                    SlaKernels.ColumnMax.Launch(s, checked(n * r), pf!.View<float>(), sf!.View<float>(), colMax.View<float>(), argP.View<int>(), n, p, r, e);
                    SlaKernels.RowMax.Launch(s, checked(n * p * n), pf!.View<float>(), sf!.View<float>(), offsetsOnDevice.View<int>(), rowMax.View<float>(), argS.View<int>(), n, p, r, e);
                }
                using Tensor partSum = Tensor.Empty([n, parts, n], DType.Float32, device);
                SlaKernels.ImageToTextPart.Launch(s, checked(n * parts * n), rowMax.View<float>(), partSum.View<float>(), n, p, parts);
                SlaKernels.Reduce.Launch(s, n * n, colMax.View<float>(), partSum.View<float>(), offsetsOnDevice.View<int>(), scores.View<float>(), n, p, r, parts);
            });
        // fp32 widenings of 16-bit inputs were for this forward only.
        if (sixteen)
        {
            pf?.Dispose();
            sf?.Dispose();
        }
        GradMode.RecordIfNeeded(scores, new SlaScoresNode(patches, sentences, ps, ss, offsetsOnDevice, reportOnDevice, argP, argS)
            .Owning(offsetsOnDevice, reportOnDevice, argP, argS, Node.IfCopy(ps, patches), Node.IfCopy(ss, sentences)));
        Tensor t2i = Ops.Reshape(Ops.Narrow(scores, 0, 0, 1), n, n);
        Tensor i2t = Ops.Reshape(Ops.Narrow(scores, 0, 1, 1), n, n);
        return (t2i, i2t);
    }

    private static Tensor SlaSymmetricCrossEntropy(Tensor logits, long[] targets) =>
        Ops.Add(Ops.CrossEntropy(logits, targets), Ops.CrossEntropy(Ops.Transpose(logits, 0, 1), targets));

    /// <summary>Host copy of the offsets, checked: [N + 1] integers, 0 first, R last, strictly increasing.</summary>
    private static int[] SlaReadOffsets(Tensor offsets, int n, int r)
    {
        if (offsets.DType is not (DType.Int64 or DType.Int32))
            throw new ArgumentException($"{SlaOp}: sentence_offsets must be int64 or int32, got {offsets.DType}.", nameof(offsets));
        if (offsets.Rank != 1 || offsets.Shape[0] != n + 1)
            throw new ArgumentException($"{SlaOp}: sentence_offsets must be [{n + 1}] (N + 1 for N = {n} images), got {Shape.Format(offsets.Shape)}.", nameof(offsets));
        long[] values = offsets.DType == DType.Int64 ? offsets.Contiguous().ToArray<long>() : Array.ConvertAll(offsets.Contiguous().ToArray<int>(), v => (long)v);
        if (values[0] != 0)
            throw new ArgumentException($"{SlaOp}: sentence_offsets must start at 0, got {values[0]}.", nameof(offsets));
        for (int m = 0; m < n; m++)
            if (values[m + 1] <= values[m])
                throw new ArgumentException($"{SlaOp}: sentence_offsets must increase strictly (every report has at least one sentence); report {m} has {values[m + 1] - values[m]} ({values[m]}..{values[m + 1]}).", nameof(offsets));
        if (values[n] != r)
            throw new ArgumentException($"{SlaOp}: sentence_offsets must end at the number of sentence rows {r}, got {values[n]}.", nameof(offsets));
        return Array.ConvertAll(values, v => (int)v);
    }

    /// <summary>
    /// Backward of the stacked scores [2, N, N] through the saved selections. <paramref name="savedPatches"/>
    /// and <paramref name="savedSentences"/> are contiguous, fp32 or as 16-bit as the inputs were; the
    /// backward's products run in fp32 on widened temporaries.
    /// </summary>
    private sealed class SlaScoresNode(Tensor patches, Tensor sentences, Tensor savedPatches, Tensor savedSentences, Tensor offsets, Tensor reportOf,
        Tensor argP, Tensor argS)
        : Node(patches, sentences)
    {
        public override string Name => SlaOp;

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            using Tensor? widenedPatches = savedPatches.DType == DType.Float32 ? null : Dispatch.F32(savedPatches);
            using Tensor? widenedSentences = savedSentences.DType == DType.Float32 ? null : Dispatch.F32(savedSentences);
            Tensor pf = widenedPatches ?? savedPatches, sf = widenedSentences ?? savedSentences;
            int n = pf.Shape[0], p = pf.Shape[1], e = pf.Shape[2], r = sf.Shape[0];
            Tensor g = Dispatch.F32(dy);
            Tensor dPatches = Tensor.Empty(pf.Shape, DType.Float32, pf.Device);
            Tensor dSentences = Tensor.Empty(sf.Shape, DType.Float32, sf.Device);
            Dispatch.Run(pf.Device,
                cpu: () => LocalAlignmentCpu.Backward(n, p, r, e, pf.Ptr<float>(), sf.Ptr<float>(), offsets.Ptr<int>(), argP.Ptr<int>(), argS.Ptr<int>(), g.Ptr<float>(),
                    dPatches.Ptr<float>(), dSentences.Ptr<float>()),
                ilgpu: s =>
                {
                    if (LocalAlignment.UsesGemm(s))
                    {
                        // Per chunk of images, dsim [c P, R]: the score gradients on the selected pairs; then
                        // d patches of the chunk = dsim sentences and d sentences += dsim^T patches of the chunk.
                        int chunk = SlaChunkImages(n, p, r);
                        using Tensor dsim = Tensor.Empty([chunk * p, r], DType.Float32, pf.Device);
                        for (int img0 = 0; img0 < n; img0 += chunk)
                        {
                            int c = Math.Min(chunk, n - img0);
                            ArrayView<float> slice = dsim.View<float>().SubView(0, (long)c * p * r);
                            ArrayView<float> patchRows = pf.View<float>().SubView((long)img0 * p * e, (long)c * p * e);
                            ILGPU.Runtime.ArrayViewExtensions.MemSetToZero(slice, s);
                            SimKernels.ScatterTextToImage.Launch(s, checked(c * r), slice, argP.View<int>().SubView((long)img0 * r, (long)c * r),
                                offsets.View<int>(), reportOf.View<int>(), g.View<float>(), n, p, r, img0);
                            SimKernels.ScatterImageToText.Launch(s, checked(c * p * n), slice, argS.View<int>().SubView((long)img0 * p * n, (long)c * p * n),
                                offsets.View<int>(), g.View<float>(), n, p, r, img0);
                            DeviceGemm.Run(s, 1, c * p, e, r, slice, 0, r, 1, sf.View<float>(), 0, e, 1,
                                dPatches.View<float>().SubView((long)img0 * p * e, (long)c * p * e));
                            DeviceGemm.Run(s, 1, r, e, c * p, slice, 0, 1, r, patchRows, 0, e, 1, dSentences.View<float>(), beta: img0 == 0 ? 0f : 1f);
                        }
                        return;
                    }
                    SlaKernels.PatchGrad.Launch(s, checked(n * p * e), sf.View<float>(), offsets.View<int>(), argP.View<int>(), argS.View<int>(), g.View<float>(),
                        dPatches.View<float>(), n, p, r, e);
                    SlaKernels.SentenceGrad.Launch(s, checked(r * e), pf.View<float>(), offsets.View<int>(), reportOf.View<int>(), argP.View<int>(), argS.View<int>(),
                        g.View<float>(), dSentences.View<float>(), n, p, r, e);
                });
            return [Edges[0].RequiresGrad ? dPatches : null, Edges[1].RequiresGrad ? dSentences : null];
        }
    }
}
