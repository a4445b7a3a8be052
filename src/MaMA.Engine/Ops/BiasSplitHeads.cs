using ILGPU;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Conversion;
using MaMA.Kernels.Layout;
using BinaryKernels = MaMA.Kernels.Elementwise.Binary;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// The attention input of a fused qkv projection: y [B, T, S H D] (the bias-free product x W^T,
    /// S = 3 parts q, k, v, each head-major), bias [S H D] -> [S, B, H, T, D] contiguous, the sum
    /// (y + bias) viewed as [B, T, S, H, D] and permuted (2, 0, 3, 1, 4). Narrowing axis 0 gives q, k
    /// and v as contiguous [B, H, T, D] tensors. A null bias splits y as it is (a projection that
    /// added its bias itself, as LoRA's epilogue does): the same single pass without the add.
    /// <para>
    /// Unfused, the bias add wrote [B, T, S H D], and attention then copied (fp32) or cast (bf16
    /// autocast) each of q, k, v out of the strided view: two passes. Here it is one broadcast pass that
    /// reads y in its layout and writes the permuted sum. Inside a bf16 autocast scope that pass writes
    /// bf16 (attention would round q, k, v to bf16 anyway), so attention reads it without a cast.
    /// Values and gradients equal the unfused add, permute and cast bit for bit.
    /// </para>
    /// Gradients: y's is the incoming gradient permuted back; bias's its sum over B and T.
    /// </summary>
    public static unsafe Tensor BiasSplitHeads(Tensor y, Tensor? bias, int parts, int heads)
    {
        ArgumentNullException.ThrowIfNull(y);
        const string Name = "bias_split_heads";
        Dispatch.RequireFloat(Name, y);
        if (bias is not null)
        {
            Dispatch.SameDevice(Name, y, bias);
            Dispatch.RequireFloat(Name, bias);
        }
        if (parts <= 0 || heads <= 0) throw new ArgumentOutOfRangeException(parts <= 0 ? nameof(parts) : nameof(heads), $"{Name}: parts and heads must be positive, got {parts} and {heads}.");
        if (y.Rank != 3 || y.Shape[2] % (parts * heads) != 0 || bias is not null && (bias.Rank != 1 || bias.Shape[0] != y.Shape[2]))
            throw new ArgumentException($"{Name}: y must be [B, T, S H D] and bias [S H D] with S = {parts} parts of {heads} heads; got y {Shape.Format(y.Shape)}, bias {(bias is null ? "none" : Shape.Format(bias.Shape))}.");
        if (bias is null) return SplitHeads(y, parts, heads);
        int b = y.Shape[0], t = y.Shape[1], d = y.Shape[2] / (parts * heads);
        // Views for the kernel's index map only (the node's inputs are y and bias): unrecorded, and released below.
        Tensor yv, bv;
        using (GradMode.NoGrad())
        {
            using Tensor y5 = y.Reshape(b, t, parts, heads, d);
            yv = y5.Permute(2, 0, 3, 1, 4);
            bv = bias.Reshape(parts, 1, heads, 1, d);
        }
        Tensor af = yv.DType == DType.Float32 ? yv : yv.To(DType.Float32), bf = bv.DType == DType.Float32 ? bv : bv.To(DType.Float32);
        int[] shape = [parts, b, heads, t, d];
        bool bf16 = Autocast.IsEnabled;
        Tensor output = Tensor.Empty(shape, bf16 ? DType.BFloat16 : DType.Float32, y.Device);
        int n = checked((int)output.Numel);
        if (n > 0 && !bf16) BroadcastKernel(af, bf, output, BinaryKernels.Add);
        else if (n > 0)
        {
            // bf16: the same broadcast add with the sum rounded in the kernel.
            long[] sa = BroadcastStrides(af, shape), sb = BroadcastStrides(bf, shape);
            Dispatch.Run(output.Device,
                cpu: () =>
                {
                    // bf16 on the CPU is for parity, not speed: the fp32 sum, then rounded.
                    using Tensor sum = Tensor.Empty(shape, DType.Float32, output.Device);
                    MaMA.Kernels.Cpu.BinarySimd.Run(shape, af.Ptr<float>(), sa, bf.Ptr<float>(), sb, sum.Ptr<float>(), BinaryKernels.Add);
                    Casts.FloatToBFloat16.RunCpu(n, sum.Ptr<float>(), output.Ptr<ushort>());
                },
                ilgpu: s =>
                {
                    ArrayView<float> av = af.View<float>(af.Extent), bvw = bf.View<float>(bf.Extent);
                    ArrayView<ushort> ov = output.View<ushort>();
                    foreach (IndexMap.Slice slice in IndexMap.Slices(shape, sa, 0, sb, 0))
                        BinaryKernels.AddToBFloat16.Launch(s, slice.Count, av, bvw, ov.SubView(slice.First, slice.Count), slice.Map);
                });
        }
        if (!ReferenceEquals(af, yv)) af.Dispose();
        if (!ReferenceEquals(bf, bv)) bf.Dispose();
        yv.Dispose();
        bv.Dispose();
        return GradMode.ShouldRecord(y, bias) ? GradMode.RecordIfNeeded(output, new BiasSplitHeadsNode([y, bias], parts, heads)) : output;
    }

    /// <summary>
    /// <see cref="BiasSplitHeads"/> without a bias: the permuted view of y rounded (bf16 autocast; one
    /// strided pass on accelerators) or copied in its dtype (fp32 otherwise) into a fresh contiguous
    /// tensor, recorded as one node.
    /// </summary>
    private static Tensor SplitHeads(Tensor y, int parts, int heads)
    {
        int b = y.Shape[0], t = y.Shape[1], d = y.Shape[2] / (parts * heads);
        DType target = Autocast.IsEnabled ? DType.BFloat16 : DType.Float32;
        Tensor output;
        using (GradMode.NoGrad())
        {
            using Tensor y5 = y.Reshape(b, t, parts, heads, d);
            using Tensor yv = y5.Permute(2, 0, 3, 1, 4);
            if (yv.DType != target)
            {
                output = Cast(yv, target);
            }
            else
            {
                // (a fresh tensor even when the view happens to be contiguous: the output never aliases y)
                output = Tensor.Empty(yv.Shape, target, y.Device);
                CopyStrided(yv, output);
            }
        }
        return GradMode.ShouldRecord(y) ? GradMode.RecordIfNeeded(output, new BiasSplitHeadsNode([y], parts, heads)) : output;
    }

    /// <summary>
    /// The gradient [S, B, H, T, D] (widened to fp32 when it comes in bf16, as a cast's backward
    /// does) permuted back to y's [B, T, S H D] in one copy; bias's is its sum over B and T, taken in
    /// that layout as the unfused add's backward takes it (the same summation order).
    /// </summary>
    /// <param name="inputs">y, and the bias when there is one.</param>
    private sealed class BiasSplitHeadsNode(Tensor[] inputs, int parts, int heads) : Node(inputs)
    {
        private readonly int[] _yShape = [.. inputs[0].Shape];

        public override string Name => "bias_split_heads";

        public override Tensor?[] Backward(Tensor dy)
        {
            Tensor g = dy.DType == DType.Float32 ? dy : Cast(dy, DType.Float32);
            int b = _yShape[0], t = _yShape[1], d = _yShape[2] / (parts * heads);
            // [S, B, H, T, D] -> [B, T, S, H, D] contiguous -> [B, T, S H D].
            Tensor permuted = Permute(g, 1, 3, 0, 2, 4), copy = Contiguous(permuted);
            Tensor dyBt = copy.Reshape(_yShape); // a view holding its own reference to the copy's storage
            permuted.Dispose();
            if (!ReferenceEquals(dyBt, copy)) copy.Dispose();
            if (!ReferenceEquals(g, dy)) g.Dispose();
            Tensor? db = Edges.Length > 1 && Edges[1].RequiresGrad ? SumTo(dyBt, Edges[1].Shape) : null;
            if (Edges.Length == 1) return [dyBt];
            if (Edges[0].RequiresGrad) return [dyBt, db];
            if (!ReferenceEquals(dyBt, db)) dyBt.Dispose();
            return [null, db];
        }
    }
}
