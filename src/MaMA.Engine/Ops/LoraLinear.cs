using System.Runtime.InteropServices;
using ILGPU;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using MaMA.Kernels.Linear;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using Device = MaMA.Engine.Devices.Device;
using LoraKernels = MaMA.Kernels.Lora.Lora;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// LoRA linear: y = x W + b + scaling * dropout(x) A^T B^T, with x [..., in], A [r, in],
    /// B [out, r], bias [out] (optional) and the base weight W stored per <paramref name="layout"/>:
    /// [in, out] for <see cref="WeightLayout.Conv1D"/> (GPT-2 checkpoints, y = x W) or [out, in] for
    /// <see cref="WeightLayout.Linear"/> (y = x W^T). Output [..., out], fp32 (any floating input
    /// dtype is computed in fp32).
    /// <para>
    /// The base weight is frozen by contract: no gradient is ever computed for it, even when it
    /// requires grad (its Grad stays untouched). Gradients flow to x, A, B, and to the bias when it
    /// requires grad. Dropout (probability <paramref name="dropout"/>, active only when
    /// <paramref name="training"/>) applies to the LoRA input only, with the keep-mask of
    /// <see cref="Dropout"/> for the same (<paramref name="seed"/>, <paramref name="offset"/>) over x
    /// flattened to [M, in]; backward regenerates it (nothing is stored but u = dropout(x) A^T, [M, r]).
    /// <paramref name="dropoutBase"/> is the element index of x's first element in the whole batch: a
    /// data-parallel rank passes where its rows start, so they draw the masks they get in one process.
    /// </para>
    /// <para>
    /// Fast CPU path: u in one SIMD sweep over x, then y = b + scaling * u B^T written as the
    /// initial value that the base GEMM (Sgemm, beta = 1) accumulates x W into; backward is one sweep
    /// over dy (du, dB, db), one over x (dA and mask * du A written into dx) and the dy W^T GEMM
    /// accumulating into dx. ILGPU: the generated kernels of <see cref="LoraKernels"/>.
    /// </para>
    /// </summary>
    public static Tensor LoraLinear(Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scaling, WeightLayout layout,
        float dropout = 0f, ulong seed = 0, ulong offset = 0, bool training = false, long dropoutBase = 0)
    {
        if (Autocast.Lowers(x, weight, loraA, loraB))
        {
            Tensor lx = Autocast.Lower(x), lw = Autocast.Lower(weight), la = Autocast.Lower(loraA), lb = Autocast.Lower(loraB);
            return Autocast.OwnCopies(LoraLinear(lx, lw, bias, la, lb, scaling, layout, dropout, seed, offset, training, dropoutBase),
                (lx, x), (lw, weight), (la, loraA), (lb, loraB));
        }
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(loraA);
        ArgumentNullException.ThrowIfNull(loraB);
        if (!(dropout >= 0f && dropout <= 1f)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "lora_linear: dropout probability must be in [0, 1].");
        if (!float.IsFinite(scaling)) throw new ArgumentOutOfRangeException(nameof(scaling), scaling, "lora_linear: scaling must be finite.");
        var (inF, outF, r) = LoraShapes("lora_linear", weight, loraA, loraB, layout);
        if (x.Rank < 1 || x.Shape[^1] != inF)
            throw new ArgumentException($"lora_linear: x of shape {Shape.Format(x.Shape)} must end in in = {inF} (weight {Shape.Format(weight.Shape)}, {layout} layout).", nameof(x));
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"lora_linear: bias must be [{outF}], got {Shape.Format(bias.Shape)}.", nameof(bias));
        RequireFloat(x, "x");
        if (bias is not null) RequireFloat(bias, "bias");
        Tensor[] inputs = bias is null ? [x, weight, loraA, loraB] : [x, weight, bias, loraA, loraB];
        Dispatch.SameDevice("lora_linear", inputs);

        int m = checked((int)Shape.Numel(x.Shape[..^1]));
        Tensor x2 = x.Rank == 2 ? x : Reshape(x, m, inF);
        var mask = training && dropout > 0f ? new PhiloxDropout(dropout, seed, offset, dropoutBase) : PhiloxDropout.Off;
        Tensor y = LoraLinear2D(x2, weight, bias, loraA, loraB, scaling, layout, mask, m, inF, outF, r);
        return x.Rank == 2 ? y : Reshape(y, [.. x.Shape[..^1], outF]);
    }

    /// <summary>(in, out, r) from the weight, A and B shapes, with errors naming the tensor.</summary>
    internal static (int In, int Out, int R) LoraShapes(string op, Tensor weight, Tensor loraA, Tensor loraB, WeightLayout layout)
    {
        if (weight.Rank != 2)
            throw new ArgumentException($"{op}: weight must be 2-D ({(layout == WeightLayout.Conv1D ? "[in, out]" : "[out, in]")}), got {Shape.Format(weight.Shape)}.", nameof(weight));
        int inF = layout == WeightLayout.Conv1D ? weight.Shape[0] : weight.Shape[1];
        int outF = layout == WeightLayout.Conv1D ? weight.Shape[1] : weight.Shape[0];
        if (loraA.Rank != 2 || loraA.Shape[1] != inF || loraA.Shape[0] < 1)
            throw new ArgumentException($"{op}: lora_A must be [r, {inF}] with r >= 1, got {Shape.Format(loraA.Shape)}.", nameof(loraA));
        int r = loraA.Shape[0];
        if (loraB.Rank != 2 || loraB.Shape[0] != outF || loraB.Shape[1] != r)
            throw new ArgumentException($"{op}: lora_B must be [{outF}, {r}], got {Shape.Format(loraB.Shape)}.", nameof(loraB));
        RequireFloat(weight, "weight");
        RequireFloat(loraA, "lora_A");
        RequireFloat(loraB, "lora_B");
        return (inF, outF, r);
    }

    private static void RequireFloat(Tensor t, string name)
    {
        if (!t.DType.IsFloating()) throw new ArgumentException($"lora_linear: {name} must be a floating tensor, got {t.DType}.");
    }

    /// <summary>
    /// How lora_linear runs on ILGPU devices. <see cref="GemmForm.Auto"/> (the default) takes the GEMM
    /// form on GPUs: the frozen base product and the rank-r products are GEMMs, and the
    /// kernels keep only the bias, the B epilogue, the dropout mask and the column sums. On an H200
    /// the per-output kernels took 12.5 ms forward where PyTorch's addmm took 0.66 ms. Tests set
    /// <see cref="GemmForm.Gemm"/> to check it on the CPU simulator.
    /// </summary>
    public static GemmForm LoraLinearForm { get; set; } = GemmForm.Auto;

    /// <summary>dropout(x) [m, in] for the GEMM form (owned by the caller), or null when dropout is off and x itself serves.</summary>
    private static Tensor? LoraMaskedInput(AcceleratorStream s, Tensor xf, PhiloxDropout mask, int m, int inF)
    {
        if (!mask.Active || mask.Probability <= 0f || (long)m * inF == 0) return null;
        Tensor xd = Tensor.Empty([m, inF], DType.Float32, xf.Device);
        LoraKernels.MaskInput.Launch(s, checked(m * inF), xf.View<float>(), xd.View<float>(), mask.ForKernels);
        return xd;
    }

    /// <summary>Weight element strides: w(k, j) = w[k * row + j * col] for input k, output j.</summary>
    private static (long Row, long Col) WeightStrides(WeightLayout layout, int inF, int outF) =>
        layout == WeightLayout.Conv1D ? (outF, 1) : (1, inF);

    private static unsafe Tensor LoraLinear2D(Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scaling, WeightLayout layout,
        PhiloxDropout mask, int m, int inF, int outF, int r)
    {
        Tensor y = Tensor.Empty([m, outF], DType.Float32, x.Device);
        Tensor u = Tensor.Empty([m, r], DType.Float32, x.Device);
        (long wRow, long wCol) = WeightStrides(layout, inF, outF);
        if (UsesTensorCores(x.Device, x.DType, weight.DType))
            using (GradMode.NoGrad())
                LoraTensorCoreForward(x, weight, bias, loraA, loraB, scaling, mask, u, y, m, inF, outF, r, wRow, wCol); // TensorCorePath.cs
        else
        using (GradMode.NoGrad())
        {
            using var scope = new TempScope();
            Tensor xf = scope.F32(x), wf = scope.F32(weight), af = scope.F32(loraA), bf = scope.F32(loraB);
            Tensor? biasf = bias is null ? null : scope.F32(bias);
            Dispatch.Run(x.Device,
                cpu: () =>
                {
                    float* px = xf.Ptr<float>(), pu = u.Ptr<float>(), py = y.Ptr<float>();
                    LoraSimd.Project(m, inF, r, px, af.Ptr<float>(), pu, mask);
                    float* bT = (float*)ScratchMemory.AlignedAlloc((long)r * outF * sizeof(float) + 64, 64, "LoraLinear B^T");
                    try
                    {
                        LoraSimd.Transpose(outF, r, bf.Ptr<float>(), bT);
                        LoraSimd.InitOutput(m, outF, r, pu, bT, biasf is null ? null : biasf.Ptr<float>(), scaling, py);
                    }
                    finally
                    {
                        NativeMemory.AlignedFree(bT);
                    }
                    Sgemm.Run(m, outF, inF, px, inF, 1, wf.Ptr<float>(), wRow, wCol, py, outF, 1f, 1f);
                },
                ilgpu: s =>
                {
                    // GEMM form (CUDA with cuBLAS by default): u = dropout(x) A^T and x W as GEMMs, the kernel (given inF 0)
                    // only writes bias + scaling u B^T first. Otherwise the per-output kernels do everything.
                    bool gemm = LoraLinearForm.UsesGemm(s);
                    if ((long)m * r > 0)
                    {
                        if (gemm)
                        {
                            using Tensor? xd = LoraMaskedInput(s, xf, mask, m, inF);
                            DeviceGemm.Run(s, 1, m, r, inF, (xd ?? xf).View<float>(), 0, inF, 1, af.View<float>(), 0, 1, inF, u.View<float>());
                        }
                        else
                        {
                            LoraKernels.Project.Launch(s, m * r, xf.View<float>(), af.View<float>(), u.View<float>(), inF, r,
                                mask.ForKernels);
                        }
                    }
                    if ((long)m * outF > 0)
                    {
                        LoraKernels.Forward.Launch(s, checked(m * outF), xf.View<float>(), wf.View<float>(), (biasf ?? bf).View<float>(), u.View<float>(),
                            bf.View<float>(), y.View<float>(), gemm ? 0 : inF, outF, r, wRow, wCol, biasf is null ? 0 : 1, scaling);
                        if (gemm)
                            DeviceGemm.Run(s, 1, m, outF, inF, xf.View<float>(), 0, inF, 1, wf.View<float>(), 0, wRow, wCol, y.View<float>(), beta: 1f);
                    }
                });
        }
        Tensor[] inputs = bias is null ? [x, weight, loraA, loraB] : [x, weight, bias, loraA, loraB];
        // Saved: x only for dA (when A trains), W only for dx (when x needs a gradient), A, B and u = dropout(x) A^T.
        var node = new LoraLinearNode(inputs, loraA.RequiresGrad ? x : null, x.RequiresGrad ? weight : null, loraA, loraB,
            bias is not null, u, scaling, layout, mask, m, inF, outF, r, x.DType == DType.BFloat16 && weight.DType == DType.BFloat16).Owning(u);
        return GradMode.RecordIfNeeded(y, node);
    }

    /// <param name="baseBf16">
    /// x and W were bf16, so the forward's base product x W ran on bf16 values: the backward's base
    /// product dy W^T does too, with dy rounded to bf16 as in <see cref="MatMul"/>'s backward. On
    /// CUDA (and the simulator) that is a bf16 GEMM on the saved bf16 W, the largest product of the
    /// backward, instead of an fp32 GEMM over a widened copy of W; elsewhere the same rounded values in fp32.
    /// </param>
    private sealed class LoraLinearNode(Tensor[] inputs, Tensor? savedX, Tensor? savedW, Tensor a, Tensor b, bool hasBias, Tensor u, float scaling,
        WeightLayout layout, PhiloxDropout mask, int m, int inF, int outF, int r, bool baseBf16) : Node(inputs)
    {
        public override string Name => "lora_linear";

        // dB = s dy^T u, du = s dy B, dA = du^T dropout(x), dx = dy W^T + mask * (du A), db = sum_rows dy.
        // W gets no gradient (frozen by contract).
        public override unsafe Tensor?[] Backward(Tensor gradOutput)
        {
            Edge x = Edges[0];
            bool needX = x.RequiresGrad, needA = Edges[^2].RequiresGrad, needB = Edges[^1].RequiresGrad, needBias = hasBias && Edges[2].RequiresGrad;
            bool needU = needX || needA;
            (long wRow, long wCol) = WeightStrides(layout, inF, outF);
            Tensor? dx = needX ? Tensor.Empty([m, inF], DType.Float32, x.Device) : null;
            Tensor? da = needA ? Tensor.Empty([r, inF], DType.Float32, x.Device) : null;
            Tensor? db = needB ? Tensor.Empty([outF, r], DType.Float32, x.Device) : null;
            Tensor? dbias = needBias ? Tensor.Empty([outF], DType.Float32, x.Device) : null;
            using (var scope = new TempScope())
            {
                Tensor dy = scope.F32(gradOutput);
                Tensor? du = needU ? scope.Own(Tensor.Empty([m, r], DType.Float32, x.Device)) : null;
                Tensor? xf = needA ? scope.F32(savedX!) : null;
                // dy as the base product dy W^T reads it: bf16 bits for a bf16 GEMM (dy16, with W16), else fp32 (dyW, with wf).
                Tensor? dy16 = needX && baseBf16 ? Bf16Contiguous(gradOutput, scope) : null;
                bool bf16Gemm = dy16 is not null && UsesTensorCores(x.Device, DType.BFloat16, DType.BFloat16);
                Tensor? dyW = !needX || bf16Gemm ? null : dy16 is null ? dy : scope.F32(dy16);
                Tensor? wf = needX && !bf16Gemm ? scope.F32(savedW!) : null;
                Tensor? w16 = bf16Gemm ? Bf16Contiguous(savedW!, scope) : null;
                Tensor af = scope.F32(a), bf = scope.F32(b);
                Dispatch.Run(x.Device,
                    cpu: () =>
                    {
                        float* bT = null, dbT = null;
                        try
                        {
                            bT = (float*)ScratchMemory.AlignedAlloc((long)r * outF * sizeof(float) + 64, 64, "LoraLinear B^T");
                            if (needB) dbT = (float*)ScratchMemory.AlignedAlloc((long)r * outF * sizeof(float) + 64, 64, "LoraLinear dB^T");
                            LoraSimd.Transpose(outF, r, bf.Ptr<float>(), bT);
                            LoraSimd.BackwardOutput(m, outF, r, dy.Ptr<float>(), bT, u.Ptr<float>(), scaling,
                                du is null ? null : du.Ptr<float>(), dbT, dbias is null ? null : dbias.Ptr<float>());
                            if (db is not null) LoraSimd.Transpose(r, outF, dbT, db.Ptr<float>());
                        }
                        finally
                        {
                            if (bT != null) NativeMemory.AlignedFree(bT);
                            if (dbT != null) NativeMemory.AlignedFree(dbT);
                        }
                        if (du is not null)
                            LoraSimd.BackwardInput(m, inF, r, xf is null ? null : xf.Ptr<float>(), af.Ptr<float>(), du.Ptr<float>(), mask,
                                dx is null ? null : dx.Ptr<float>(), da is null ? null : da.Ptr<float>());
                        if (dx is not null)
                        {
                            // dx += dy W^T: (W^T)(j, k) = w(k, j), so the GEMM's B strides are the weight's swapped.
                            Sgemm.Run(m, inF, outF, dyW!.Ptr<float>(), outF, 1, wf!.Ptr<float>(), wCol, wRow, dx.Ptr<float>(), inF, 1f, 1f);
                        }
                    },
                    ilgpu: s =>
                    {
                        bool gemm = LoraLinearForm.UsesGemm(s);
                        if (gemm) GemmFormBackward(s, dy, bf, xf, du, da, db, dbias);
                        else KernelsBackward(s, dy, bf, xf, du, da, db, dbias);
                        if (dx is not null && (long)m * inF > 0)
                            InputGrad(s, gemm, (bf16Gemm ? dy16 : dyW)!, (w16 ?? wf)!, du!, af, dx, wRow, wCol);
                    });
            }
            return hasBias ? [dx, null, dbias, da, db] : [dx, null, da, db];
        }

        /// <summary>The low-rank and bias gradients by the per-output kernels.</summary>
        private void KernelsBackward(AcceleratorStream s, Tensor dy, Tensor bf, Tensor? xf, Tensor? du, Tensor? da, Tensor? db, Tensor? dbias)
        {
            if (du is not null && (long)m * r > 0)
                LoraKernels.GradU.Launch(s, m * r, dy.View<float>(), bf.View<float>(), du.View<float>(), outF, r, scaling);
            if (db is not null && (long)outF * r > 0)
                LoraKernels.GradB.Launch(s, outF * r, dy.View<float>(), u.View<float>(), db.View<float>(), m, outF, r, scaling);
            if (dbias is not null && outF > 0)
                LoraKernels.GradBias.Launch(s, outF, dy.View<float>(), dbias.View<float>(), m, outF);
            if (da is not null && (long)r * inF > 0)
                LoraKernels.GradA.Launch(s, r * inF, du!.View<float>(), xf!.View<float>(), da.View<float>(), m, inF, r,
                    mask.ForKernels);
        }

        /// <summary>
        /// The low-rank and bias gradients as GEMMs (cuBLAS on CUDA): du = s dy B, dB = s dy^T u,
        /// dA = du^T dropout(x); db by its column-sum kernel.
        /// </summary>
        private void GemmFormBackward(AcceleratorStream s, Tensor dy, Tensor bf, Tensor? xf,
            Tensor? du, Tensor? da, Tensor? db, Tensor? dbias)
        {
            // B [out, r]: row stride r; dy^T and du^T: row stride 1, column stride out / r.
            if (du is not null) DeviceGemm.Run(s, 1, m, r, outF, dy.View<float>(), 0, outF, 1, bf.View<float>(), 0, r, 1, du.View<float>(), alpha: scaling);
            if (db is not null) DeviceGemm.Run(s, 1, outF, r, m, dy.View<float>(), 0, 1, outF, u.View<float>(), 0, r, 1, db.View<float>(), alpha: scaling);
            if (dbias is not null && outF > 0) LoraKernels.GradBias.Launch(s, outF, dy.View<float>(), dbias.View<float>(), m, outF);
            if (da is not null)
            {
                using Tensor? xd = LoraMaskedInput(s, xf!, mask, m, inF);
                DeviceGemm.Run(s, 1, r, inF, m, du!.View<float>(), 0, 1, r, (xd ?? xf!).View<float>(), 0, inF, 1, da.View<float>());
            }
        }

        /// <summary>
        /// dx = dy W^T + mask * (du A). bf16 <paramref name="dyBase"/> and <paramref name="w"/>: the
        /// kernel writes the low-rank term (given outF 0), then a bf16 GEMM adds dy W^T (beta 1); fp32
        /// ones: the same with an fp32 GEMM in the GEMM form, or the kernel alone (both terms).
        /// </summary>
        private void InputGrad(AcceleratorStream s, bool gemm, Tensor dyBase, Tensor w, Tensor du, Tensor af, Tensor dx, long wRow, long wCol)
        {
            bool bf16 = dyBase.DType == DType.BFloat16;
            // With outF 0 the kernel reads neither dy nor W: du stands in for them when they are bf16.
            ArrayView<float> dyView = bf16 ? du.View<float>() : dyBase.View<float>(), wView = bf16 ? du.View<float>() : w.View<float>();
            LoraKernels.GradInput.Launch(s, checked(m * inF), dyView, wView, du.View<float>(), af.View<float>(),
                dx.View<float>(), inF, gemm || bf16 ? 0 : outF, r, wRow, wCol, mask.ForKernels);
            // W^T (out, in): element (j, k) = w(k, j), so its strides are the weight's swapped.
            if (bf16)
                DeviceGemm.RunBf16(s, 1, m, inF, outF, dyBase.View<ushort>(), 0, outF, 1, w.View<ushort>(w.Extent), 0, wCol, wRow, dx.View<float>(), beta: 1f);
            else if (gemm)
                DeviceGemm.Run(s, 1, m, inF, outF, dyBase.View<float>(), 0, outF, 1, w.View<float>(), 0, wCol, wRow, dx.View<float>(), beta: 1f);
        }
    }
}

/// <summary>
/// Folding a LoRA adapter into its base weight and back: W += scaling * delta (<see cref="Merge"/>)
/// and W -= scaling * delta (<see cref="Unmerge"/>), with delta = B A ([out, in]) for
/// <see cref="WeightLayout.Linear"/> and (B A)^T = A^T B^T ([in, out]) for <see cref="WeightLayout.Conv1D"/>.
/// Both update the weight in place (every holder of the parameter sees it) outside autograd. delta
/// is computed the same way both times, so Unmerge after Merge restores an fp32 weight to within
/// one rounding of each element; a bf16/fp16 weight is updated in fp32 and rounded back (inexact).
/// </summary>
public static class LoraAdapter
{
    /// <summary>W += scaling * delta: after this, x W (+ b) equals the adapted layer without dropout.</summary>
    public static void Merge(Tensor weight, Tensor loraA, Tensor loraB, float scaling, WeightLayout layout) =>
        Apply(weight, loraA, loraB, scaling, layout);

    /// <summary>W -= scaling * delta: the inverse of <see cref="Merge"/>.</summary>
    public static void Unmerge(Tensor weight, Tensor loraA, Tensor loraB, float scaling, WeightLayout layout) =>
        Apply(weight, loraA, loraB, -scaling, layout);

    private static unsafe void Apply(Tensor weight, Tensor loraA, Tensor loraB, float alpha, WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(loraA);
        ArgumentNullException.ThrowIfNull(loraB);
        var (inF, outF, r) = Ops.LoraShapes("lora merge", weight, loraA, loraB, layout);
        Dispatch.SameDevice("lora merge", weight, loraA, loraB);
        if (!weight.IsContiguous) throw new ArgumentException("lora merge: the weight must be contiguous (it is updated in place).", nameof(weight));
        using (GradMode.NoGrad())
        {
            Tensor wf = weight.DType == DType.Float32 ? weight : weight.To(DType.Float32);
            Tensor af = Dispatch.F32(loraA), bf = Dispatch.F32(loraB);
            Dispatch.Run(weight.Device,
                cpu: () =>
                {
                    float* pa = af.Ptr<float>(), pb = bf.Ptr<float>(), pw = wf.Ptr<float>();
                    if (layout == WeightLayout.Linear)
                        Sgemm.Run(outF, inF, r, pb, r, 1, pa, inF, 1, pw, inF, alpha, 1f); // W[out, in] += alpha * B A
                    else
                        Sgemm.Run(inF, outF, r, pa, 1, inF, pb, 1, r, pw, outF, alpha, 1f); // W[in, out] += alpha * A^T B^T
                },
                ilgpu: s =>
                {
                    if ((long)inF * outF > 0)
                        LoraKernels.Merge.Launch(s, checked(inF * outF), wf.View<float>(), af.View<float>(), bf.View<float>(), inF, outF, r,
                            layout == WeightLayout.Conv1D ? 1 : 0, alpha);
                });
            if (!ReferenceEquals(wf, weight))
            {
                TensorCopy.Into(weight, wf, weight.Name ?? "weight");
                wf.Dispose();
            }
            if (!ReferenceEquals(af, loraA)) af.Dispose();
            if (!ReferenceEquals(bf, loraB)) bf.Dispose();
        }
    }
}
