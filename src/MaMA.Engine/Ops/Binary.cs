using MaMA.Engine.Autograd;
using ILGPU;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Layout;
using MaMA.Kernels.Cpu;
using BinaryKernels = MaMA.Kernels.Elementwise.Binary;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>a + b with NumPy broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryOp(a, b, BinaryKernels.Add);

    /// <summary>a - b with NumPy broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryOp(a, b, BinaryKernels.Subtract);

    /// <summary>a * b (elementwise) with NumPy broadcasting; a row vector b is a bias or a scale.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => BinaryOp(a, b, BinaryKernels.Multiply);

    /// <summary>a / b (elementwise) with NumPy broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => BinaryOp(a, b, BinaryKernels.Divide);

    /// <summary>alpha * x + beta with scalars.</summary>
    public static unsafe Tensor Affine(Tensor x, float alpha, float beta = 0f)
    {
        Dispatch.RequireFloat("affine", x);
        Tensor xf = Dispatch.F32(x);
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = checked((int)xf.Numel);
        Dispatch.Run(xf.Device,
            cpu: () => BinarySimd.Affine(n, xf.Ptr<float>(), y.Ptr<float>(), alpha, beta),
            ilgpu: s => BinaryKernels.Affine.Launch(s, n, xf.View<float>(), y.View<float>(), alpha, beta));
        return GradMode.RecordIfNeeded(y, new AffineNode(x, alpha));
    }

    /// <summary>x * alpha.</summary>
    public static Tensor Scale(Tensor x, float alpha) => Affine(x, alpha);

    private static unsafe Tensor BinaryOp(Tensor a, Tensor b, int op)
    {
        string name = OpName(op);
        Dispatch.SameDevice(name, a, b);
        Dispatch.RequireFloat(name, a);
        Dispatch.RequireFloat(name, b);
        int[] shape = Shape.Broadcast(a.Shape, b.Shape);
        Tensor af = a.DType == DType.Float32 ? a : a.To(DType.Float32);
        Tensor bf = b.DType == DType.Float32 ? b : b.To(DType.Float32);
        Tensor y = Tensor.Empty(shape, DType.Float32, a.Device);
        int n = checked((int)y.Numel);
        if (n > 0) BroadcastKernel(af, bf, y, op);
        if (!ReferenceEquals(af, a)) af.Dispose(); // widened copies of 16-bit operands: the backward keeps its own
        if (!ReferenceEquals(bf, b)) bf.Dispose();
        return GradMode.ShouldRecord(a, b) ? GradMode.RecordIfNeeded(y, new BinaryNode(a, b, op)) : y;
    }

    /// <summary>
    /// Any operand layout: on ILGPU the generated kernel, its operands' strides passed by value
    /// (<see cref="IndexMap"/>: no upload, so no synchronisation); on the CPU, row-wise SIMD
    /// (<see cref="BinarySimd"/>), which coalesces equal contiguous shapes into one long row split across cores.
    /// </summary>
    private static unsafe void BroadcastKernel(Tensor a, Tensor b, Tensor y, int op)
    {
        long[] sa = BroadcastStrides(a, y.Shape), sb = BroadcastStrides(b, y.Shape);
        Dispatch.Run(y.Device,
            cpu: () => BinarySimd.Run(y.Shape, a.Ptr<float>(), sa, b.Ptr<float>(), sb, y.Ptr<float>(), op),
            ilgpu: s =>
            {
                ArrayView<float> av = a.View<float>(a.Extent), bv = b.View<float>(b.Extent), yv = y.View<float>();
                foreach (IndexMap.Slice slice in IndexMap.Slices(y.Shape, sa, 0, sb, 0))
                    BinaryKernels.Broadcast.Launch(s, slice.Count, av, bv, yv.SubView(slice.First, slice.Count), slice.Map, op);
            });
    }

    /// <summary>
    /// dst += src in place, outside autograd: dst an fp32 view (any strides, no element twice), src
    /// contiguous fp32 or bf16 of its shape. On the CPU a contiguous dst is one SIMD pass, a strided
    /// one the sum then a copy back (a bf16 src widened first); on ILGPU one kernel through
    /// <see cref="IndexMap"/>, which widens a bf16 src as it reads it.
    /// </summary>
    internal static unsafe void AddInto(Tensor dst, Tensor src)
    {
        if (dst.DType != DType.Float32 || src.DType is not (DType.Float32 or DType.BFloat16) || !src.IsContiguous || !Shape.SameShape(src.Shape, dst.Shape))
            throw new InvalidOperationException("Internal error: AddInto needs an fp32 destination and a contiguous fp32 or bf16 source of its shape.");
        int n = checked((int)src.Numel);
        if (n == 0) return;
        if (src.DType == DType.BFloat16 && dst.Device.IsCpu)
        {
            using Tensor wide = Cast(src, DType.Float32);
            AddInto(dst, wide);
            return;
        }
        if (dst.Device.IsCpu && !dst.IsContiguous)
        {
            using Tensor sum = Add(dst, src);
            CopyInto(sum, dst);
            return;
        }
        Dispatch.Run(dst.Device,
            cpu: () => System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(dst.Ptr<float>(), n), new ReadOnlySpan<float>(src.Ptr<float>(), n),
                new Span<float>(dst.Ptr<float>(), n)),
            ilgpu: s =>
            {
                var all = ((Devices.IlgpuStorage)dst.Storage).Buffer.View.AsContiguous().Cast<float>();
                foreach (IndexMap.Slice slice in IndexMap.Slices(dst.Shape, dst.Strides, dst.Offset))
                {
                    if (src.DType == DType.BFloat16)
                        BinaryKernels.AddIntoBf16.Launch(s, slice.Count, src.View<ushort>().SubView(slice.First, slice.Count), all, slice.Map);
                    else
                        BinaryKernels.AddInto.Launch(s, slice.Count, src.View<float>().SubView(slice.First, slice.Count), all, slice.Map);
                }
            });
    }

    /// <summary>t's strides over the broadcast shape <paramref name="shape"/>, from the view's first element; broadcast axes get stride 0.</summary>
    private static long[] BroadcastStrides(Tensor t, ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        int lead = shape.Length - t.Rank;
        for (int d = lead; d < shape.Length; d++)
            strides[d] = t.Shape[d - lead] == 1 ? 0 : t.Strides[d - lead];
        return strides;
    }

    private static string OpName(int op) => op switch
    {
        BinaryKernels.Add => "add",
        BinaryKernels.Subtract => "sub",
        BinaryKernels.Multiply => "mul",
        _ => "div",
    };

    /// <summary>
    /// Saves only what the gradients read: nothing for add and sub (shapes come from the edges); for
    /// a * b, b when a needs a gradient and a when b does (as bf16 copies of activations under
    /// autocast: the LayerScale product keeps its input that way, see Autocast.KeepForBackward);
    /// for a / b, b, and a when b needs a gradient.
    /// </summary>
    private sealed class BinaryNode : Node
    {
        private readonly int _op;
        private readonly Tensor? _a, _b;

        public BinaryNode(Tensor a, Tensor b, int op) : base(a, b)
        {
            _op = op;
            if (op == BinaryKernels.Multiply)
            {
                _a = b.RequiresGrad ? Autocast.KeepForBackward(a, a) : null;
                _b = a.RequiresGrad ? Autocast.KeepForBackward(b, b) : null;
                Owning(IfCopy(_a, a), IfCopy(_b, b));
            }
            else if (op == BinaryKernels.Divide)
            {
                _a = b.RequiresGrad ? a : null;
                _b = b;
            }
        }

        public override string Name => OpName(_op);

        public override Tensor?[] Backward(Tensor dy)
        {
            Edge a = Edges[0], b = Edges[1];
            Tensor? da = null, db = null;
            switch (_op)
            {
                case BinaryKernels.Add:
                    da = a.RequiresGrad ? SumTo(dy, a.Shape) : null;
                    db = b.RequiresGrad ? SumTo(dy, b.Shape) : null;
                    break;
                case BinaryKernels.Subtract:
                    da = a.RequiresGrad ? SumTo(dy, a.Shape) : null;
                    db = b.RequiresGrad ? SumTo(Scale(dy, -1f), b.Shape) : null;
                    break;
                case BinaryKernels.Multiply:
                    da = a.RequiresGrad ? SumTo(Mul(dy, _b!), a.Shape) : null;
                    db = b.RequiresGrad ? SumTo(Mul(dy, _a!), b.Shape) : null;
                    break;
                default:
                    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
                    da = a.RequiresGrad ? SumTo(Div(dy, _b!), a.Shape) : null;
                    db = b.RequiresGrad ? SumTo(Scale(Div(Mul(dy, _a!), Mul(_b!, _b!)), -1f), b.Shape) : null;
                    break;
            }
            return [da, db];
        }
    }

    private sealed class AffineNode(Tensor x, float alpha) : Node(x)
    {
        public override string Name => "affine";

        public override Tensor?[] Backward(Tensor dy) => [Scale(dy, alpha)];
    }
}
