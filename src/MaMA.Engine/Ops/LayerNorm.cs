using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using ILGPU;
using MaMA.Kernels.Conversion;
using LayerNormKernels = MaMA.Kernels.Normalization.LayerNorm;
using LayerNormWarp = MaMA.Kernels.Normalization.LayerNormWarp;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>Rows summed per block in the first stage of the weight/bias gradient.</summary>
    private const int LayerNormRowsPerBlock = 32;

    /// <summary>
    /// How layer norm's forward and input gradient run on ILGPU devices: <see cref="RowForm.Auto"/>
    /// gives each row a warp on CUDA (<see cref="LayerNormWarp"/>: a ViT-B activation row is 768
    /// floats, which one thread would read with every neighbour a cache line away) and a thread
    /// elsewhere. Tests set <see cref="RowForm.Warp"/> to check the warp kernels on the simulator.
    /// </summary>
    public static RowForm LayerNormForm { get; set; } = RowForm.Auto;

    /// <summary>
    /// Layer normalisation over the last axis of <paramref name="x"/> [..., C], as
    /// torch.nn.functional.layer_norm(x, [C], weight, bias, eps): (x - mean) / sqrt(var + eps) * weight + bias
    /// with the biased variance. <paramref name="weight"/> and <paramref name="bias"/> are [C] or null.
    /// ViT uses eps 1e-6, GPT-2 1e-5. Each row's mean and 1/std are kept for the backward.
    /// <para>
    /// <paramref name="forProduct"/>: the output only feeds matrix products (a pre-norm block's
    /// norms feed qkv and fc1). Inside a bf16 autocast scope it is then written in bf16, the values
    /// the product would round it to, instead of fp32 and a cast pass; the backward is unchanged.
    /// Outside a scope, or by default, the output is fp32 (as PyTorch's autocast keeps layer_norm).
    /// </para>
    /// </summary>
    public static unsafe Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f, bool forProduct = false)
    {
        const string op = "layer_norm";
        Dispatch.RequireFloat(op, x);
        if (x.Rank == 0) throw new ArgumentException($"{op}: input must have at least one axis.", nameof(x));
        int c = x.Shape[^1];
        if (c == 0) throw new ArgumentException($"{op}: the normalised axis of {Shape.Format(x.Shape)} is empty.", nameof(x));
        if (!(eps >= 0f)) throw new ArgumentOutOfRangeException(nameof(eps), $"{op}: eps must be non-negative, got {eps}.");
        CheckLayerNormParameter(op, "weight", weight, x, c);
        CheckLayerNormParameter(op, "bias", bias, x, c);

        Tensor xf;
        Tensor? wf, bf;
        using (GradMode.NoGrad())
        {
            xf = Dispatch.F32(x);
            wf = weight is null ? null : Dispatch.F32(weight);
            bf = bias is null ? null : Dispatch.F32(bias);
        }
        int rows = checked((int)(xf.Numel / c));
        bool bf16Out = forProduct && Autocast.IsEnabled;
        Tensor y = Tensor.Empty(xf.Shape, bf16Out ? DType.BFloat16 : DType.Float32, xf.Device);
        Tensor mean = Tensor.Empty([rows], DType.Float32, xf.Device);
        Tensor rstd = Tensor.Empty([rows], DType.Float32, xf.Device);
        int hasWeight = wf is null ? 0 : 1, hasBias = bf is null ? 0 : 1;
        // An absent weight or bias is never read; the kernels get x in its place.
        Tensor wArg = wf ?? xf, bArg = bf ?? xf;
        if (rows > 0)
            Dispatch.Run(xf.Device,
                cpu: () =>
                {
                    // bf16 on the CPU is for parity, not speed: the fp32 rows, then rounded.
                    using Tensor? y32 = bf16Out ? Tensor.Empty(xf.Shape, DType.Float32, xf.Device) : null;
                    LayerNormSimd.Forward(rows, c, xf.Ptr<float>(), wf is null ? null : wf.Ptr<float>(), bf is null ? null : bf.Ptr<float>(),
                        (y32 ?? y).Ptr<float>(), mean.Ptr<float>(), rstd.Ptr<float>(), eps);
                    if (y32 is not null) Casts.FloatToBFloat16.RunCpu(checked((int)y.Numel), y32.Ptr<float>(), y.Ptr<ushort>());
                },
                ilgpu: s =>
                {
                    ArrayView<float> wv = wf is null ? default : wf.View<float>(), bv = bf is null ? default : bf.View<float>();
                    if (LayerNormForm.UsesWarp(s) && bf16Out)
                        LayerNormWarp.ForwardBf16(s, xf.View<float>(), wv, bv, y.View<ushort>(), mean.View<float>(), rstd.View<float>(), rows, c, eps);
                    else if (LayerNormForm.UsesWarp(s))
                        LayerNormWarp.Forward(s, xf.View<float>(), wv, bv, y.View<float>(), mean.View<float>(), rstd.View<float>(), rows, c, eps);
                    else
                    {
                        // The thread form (no CUDA) writes fp32 and rounds after: the cast autocast would have made.
                        Tensor y32 = bf16Out ? Tensor.Empty(xf.Shape, DType.Float32, xf.Device) : y;
                        LayerNormKernels.Forward.Launch(s, rows, xf.View<float>(), wArg.View<float>(), bArg.View<float>(), y32.View<float>(),
                            mean.View<float>(), rstd.View<float>(), c, eps, hasWeight, hasBias);
                        if (!bf16Out) return;
                        Casts.FloatToBFloat16.Launch(s, checked((int)y.Numel), y32.View<float>(), y.View<ushort>());
                        y32.Dispose(); // queued on the same stream: the block is reused only behind the cast
                    }
                });

        var inputs = new List<Tensor> { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        return GradMode.RecordIfNeeded(y, new LayerNormNode(inputs.ToArray(), xf, wf, mean, rstd, weight is not null, bias is not null)
            .Owning(mean, rstd, Node.IfCopy(xf, x), Node.IfCopy(wf, weight), Node.IfCopy(bf, bias)));
    }

    private static void CheckLayerNormParameter(string op, string name, Tensor? p, Tensor x, int c)
    {
        if (p is null) return;
        Dispatch.SameDevice(op, x, p);
        Dispatch.RequireFloat(op, p);
        if (p.Rank != 1 || p.Shape[0] != c)
            throw new ArgumentException($"{op}: {name} must be [{c}] for input {Shape.Format(x.Shape)}, got {Shape.Format(p.Shape)}.", name);
    }

    /// <summary>Inputs are x, then weight and bias when present (in that order).</summary>
    private sealed class LayerNormNode(Tensor[] inputs, Tensor xf, Tensor? wf, Tensor mean, Tensor rstd, bool hasWeight, bool hasBias) : Node(inputs)
    {
        public override string Name => "layer_norm";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            // Saved: fp32 x, fp32 weight, mean, rstd; the edges say which gradients are wanted.
            Edge x = Edges[0];
            Edge? weight = hasWeight ? Edges[1] : null;
            Edge? bias = hasBias ? Edges[hasWeight ? 2 : 1] : null;
            Tensor g = Dispatch.F32(dy);
            int c = xf.Shape[^1];
            int rows = checked((int)(xf.Numel / c));
            Device device = xf.Device;

            bool needParameters = weight is { RequiresGrad: true } || bias is { RequiresGrad: true };
            Tensor? dx = x.RequiresGrad ? Tensor.Empty(xf.Shape, DType.Float32, device) : null;
            Tensor? dWeight = needParameters ? Tensor.Empty([c], DType.Float32, device) : null;
            Tensor? dBias = needParameters ? Tensor.Empty([c], DType.Float32, device) : null;
            Dispatch.Run(device,
                // One fused pass: dx and the weight/bias column sums (see LayerNormSimd).
                cpu: () =>
                {
                    if (rows == 0)
                    {
                        dWeight?.ZeroBytes();
                        dBias?.ZeroBytes();
                        return;
                    }
                    LayerNormSimd.Backward(rows, c, xf.Ptr<float>(), wf is null ? null : wf.Ptr<float>(), g.Ptr<float>(), mean.Ptr<float>(),
                        rstd.Ptr<float>(), dx is null ? null : dx.Ptr<float>(), dWeight is null ? null : dWeight.Ptr<float>(), dBias is null ? null : dBias.Ptr<float>());
                },
                ilgpu: s =>
                {
                    if (dx is not null && rows > 0)
                    {
                        Tensor wArg = wf ?? xf;
                        if (LayerNormForm.UsesWarp(s))
                            LayerNormWarp.BackwardInput(s, xf.View<float>(), wf is null ? default : wf.View<float>(), g.View<float>(), mean.View<float>(),
                                rstd.View<float>(), dx.View<float>(), rows, c);
                        else
                            LayerNormKernels.BackwardInput.Launch(s, rows, xf.View<float>(), wArg.View<float>(), g.View<float>(), mean.View<float>(),
                                rstd.View<float>(), dx.View<float>(), c, wf is null ? 0 : 1);
                    }
                    if (dWeight is null || dBias is null) return;
                    if (rows == 0)
                    {
                        dWeight.ZeroBytes();
                        dBias.ZeroBytes();
                        return;
                    }
                    int blocks = (rows + LayerNormRowsPerBlock - 1) / LayerNormRowsPerBlock;
                    int partialCount = checked(blocks * c);
                    Tensor partialW = Tensor.Empty([partialCount], DType.Float32, device);
                    Tensor partialB = Tensor.Empty([partialCount], DType.Float32, device);
                    LayerNormKernels.ParamGradPartial.Launch(s, partialCount, xf.View<float>(), g.View<float>(), mean.View<float>(), rstd.View<float>(),
                        partialW.View<float>(), partialB.View<float>(), rows, c, LayerNormRowsPerBlock);
                    LayerNormKernels.ParamGradReduce.Launch(s, c, partialW.View<float>(), partialB.View<float>(), dWeight.View<float>(), dBias.View<float>(), blocks, c);
                });

            var grads = new List<Tensor?> { dx };
            if (hasWeight) grads.Add(weight!.Value.RequiresGrad ? dWeight : null);
            if (hasBias) grads.Add(bias!.Value.RequiresGrad ? dBias : null);
            return grads.ToArray();
        }
    }
}
