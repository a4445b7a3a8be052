using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// bf16 mixed precision with fp32 master weights (per thread, as <see cref="GradMode"/>). Inside
/// <c>using (Autocast.Bf16()) { ... }</c> the matrix-bound ops (<see cref="Ops.MatMul"/>,
/// <see cref="Ops.LoraLinear"/>, <see cref="Ops.Attention"/> and the similarity of the contrastive
/// and local-alignment losses) receive bf16 copies of their fp32 floating operands, made by the
/// differentiable <see cref="Ops.Cast"/>: their gradients flow back through the cast and reach the
/// fp32 parameters in fp32. The ops multiply the bf16 values and accumulate in fp32 and return fp32,
/// as tensor cores do (mma.sync bf16 -> fp32). Every other op (LayerNorm, softmax, GELU, the
/// cross-entropies, reductions, optimizer updates) computes in fp32; GELU and products keep the
/// activations their backward reads as bf16 (<see cref="KeepForBackward"/>), for memory.
/// <para>
/// Each listed op starts with one hook line,
/// <c>if (Autocast.Lowers(a, b)) return Op(Autocast.Lower(a), Autocast.Lower(b), ...);</c>:
/// the re-entered call sees bf16 operands, so <see cref="Lowers"/> is false and it runs normally
/// (on CUDA the tensor-core branch takes bf16 operands; the fast CPU backend and the ILGPU
/// simulator widen the rounded values, which is the same arithmetic, only slower).
/// </para>
/// The backward products of a bf16 product run on bf16 values by themselves (MatMul and LoRA's base
/// product round dy to bf16; attention's tensor-core backward takes bf16-saved q, k, v). The scope
/// should still cover the backward: activation recomputation in backward then repeats the forward's
/// numerics.
/// </summary>
public static class Autocast
{
    [ThreadStatic]
    private static int t_depth;

    /// <summary>True inside a <see cref="Bf16"/> scope on this thread.</summary>
    public static bool IsEnabled => t_depth > 0;

    /// <summary>Opens a bf16 autocast scope until disposed (scopes nest).</summary>
    public static IDisposable Bf16()
    {
        t_depth++;
        return new Scope();
    }

    /// <summary>Turns autocast off until disposed (an fp32 island inside a bf16 scope).</summary>
    public static IDisposable Disable()
    {
        int saved = t_depth;
        t_depth = 0;
        return new RestoreScope(saved);
    }

    /// <summary>True when autocast is on and some operand is an fp32 tensor, i.e. the op must re-enter with <see cref="Lower"/>ed operands.</summary>
    public static bool Lowers(Tensor? a, Tensor? b = null, Tensor? c = null, Tensor? d = null, Tensor? e = null) =>
        t_depth > 0 && (IsFp32(a) || IsFp32(b) || IsFp32(c) || IsFp32(d) || IsFp32(e));

    /// <summary>The bf16 copy of an fp32 tensor inside a scope (recorded cast); anything else unchanged.</summary>
    public static Tensor Lower(Tensor x) => t_depth > 0 && x.DType == DType.Float32 ? Ops.Cast(x, DType.BFloat16) : x;

    /// <summary><see cref="Lower(Tensor)"/> of an optional operand.</summary>
    public static Tensor? LowerOrNull(Tensor? x) => x is null ? null : Lower(x);

    /// <summary>
    /// The end of a single-node op's hook: the bf16 copies it made belong to the op's node, which
    /// frees those it saved after its backward (<see cref="Node.OwningIfSaved"/>), or are garbage at
    /// once when the op was not recorded. The op's node is <paramref name="y"/>'s, or the first below
    /// it past view nodes (LoRA reshapes its 2-D result back). Only for ops whose node is the one that reads the
    /// copies (matmul, LoRA, attention), so that nothing later in the sweep still needs them; a view
    /// of a copy the node saved keeps the storage alive by its own reference.
    /// </summary>
    internal static Tensor OwnCopies(Tensor y, params (Tensor Copy, Tensor Original)[] pairs)
    {
        Node? node = y.GradFn;
        while (node is { IsView: true }) node = node.Edges[0].Producer;
        foreach ((Tensor copy, Tensor original) in pairs)
        {
            if (ReferenceEquals(copy, original)) continue;
            if (node is not null) node.OwningIfSaved(copy);
            else if (y.GradFn is null) copy.Dispose();
        }
        return y;
    }

    /// <summary>
    /// The form in which an op keeps an activation for its backward: inside a bf16 scope an fp32
    /// activation of the graph (<paramref name="source"/> has a producer, so only the tape would keep
    /// it alive) is kept as an unrecorded bf16 copy of <paramref name="values"/>, as PyTorch's
    /// autocast keeps the bf16 outputs of its matmuls for GELU and the LayerScale product; the
    /// backward widens it. Anything else (outside a scope, parameters, leaves the caller holds,
    /// 16-bit tensors, strided views whose copy could be larger) is kept as <paramref name="values"/>.
    /// Half the bytes for the largest saved tensors of a transformer block (the MLP's 4C-wide hidden
    /// activation among them). The caller owns a copy (<see cref="Node.Owning"/>).
    /// </summary>
    public static Tensor KeepForBackward(Tensor source, Tensor values)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(values);
        if (t_depth == 0 || values.DType != DType.Float32 || source.GradFn is null || !values.IsContiguous) return values;
        using (GradMode.NoGrad()) return Ops.Cast(values, DType.BFloat16);
    }

    private static bool IsFp32(Tensor? t) => t is not null && t.DType == DType.Float32;

    private sealed class Scope : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_depth--;
        }
    }

    private sealed class RestoreScope(int saved) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_depth = saved;
        }
    }
}
