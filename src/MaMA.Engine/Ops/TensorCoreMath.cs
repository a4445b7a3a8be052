namespace MaMA.Engine;

/// <summary>
/// Opt-in to bf16 tensor-core arithmetic for fp32 operands (per thread, nestable):
/// <code>using (TensorCoreMath.AllowBf16()) y = Ops.MatMul(a, b);</code>
/// Inside the scope, matmul and LoRA linear forwards on CUDA and the ILGPU CPU simulator round
/// fp32 operands to bf16 and multiply them on the tensor cores with fp32 accumulation (about 3
/// significant digits per operand: relative error ~1e-2 bound, typically ~3e-3). Outside it, fp32
/// stays exact and only operands that are already bf16 take the tensor-core path. The fast CPU
/// backend never changes.
/// </summary>
public static class TensorCoreMath
{
    [ThreadStatic]
    private static int t_depth;

    /// <summary>True inside an <see cref="AllowBf16"/> scope on this thread.</summary>
    public static bool Bf16ForFp32 => t_depth > 0;

    /// <summary>Enters the scope; dispose to leave it.</summary>
    public static IDisposable AllowBf16()
    {
        t_depth++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            t_depth--;
        }
    }
}
