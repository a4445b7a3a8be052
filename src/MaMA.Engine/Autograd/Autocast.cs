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
/// cross-entropies, reductions, optimizer updates) stays fp32.
/// <para>
/// Each listed op starts with one hook line,
/// <c>if (Autocast.Lowers(a, b)) return Op(Autocast.Lower(a), Autocast.Lower(b), ...);</c>:
/// the re-entered call sees bf16 operands, so <see cref="Lowers"/> is false and it runs normally
/// (on CUDA the tensor-core branch takes bf16 operands; the fast CPU backend and the ILGPU
/// simulator widen the rounded values, which is the same arithmetic, only slower).
/// </para>
/// The scope should cover the backward too: activation recomputation in backward then repeats the
/// forward's numerics, and the backward products round their operands as the forward did.
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
