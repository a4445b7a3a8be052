using MaMA.Engine.Nn;

namespace MaMA.Engine.Autograd;

/// <summary>
/// Opt-in "gradient is final" hook (PyTorch's post-accumulate-grad hook, used by data-parallel
/// training to start a gradient all-reduce while backward is still running). Inside
/// <c>using (GradHooks.OnLeafGradientFinal(callback)) { loss.Backward(); }</c> every backward pass on
/// this thread calls <paramref name="callback"/> once for each <see cref="Parameter"/> leaf that
/// received a gradient in that pass, as soon as its <see cref="Tensors.Tensor.Grad"/> is final for the
/// pass: after the last tape node consuming it has run (the last consumer is found from the tape's
/// execution order before the sweep starts). Frozen leaves and leaves without a gradient in the pass
/// are not reported. Without a registration backward does no extra work.
/// <para>
/// Nested passes (activation recomputation runs a backward inside a node's backward): parameters
/// that receive a gradient in a nested pass may be used by later nested passes too (one block run on
/// two views), which the outer tape cannot see, so they are reported at the end of the outermost
/// pass. A parameter reported final that then receives a gradient in a nested pass of the same
/// backward (used outside a recomputed block after its last use inside one, in tape order) is a
/// broken contract and throws.
/// </para>
/// </summary>
public static class GradHooks
{
    [ThreadStatic]
    private static Action<Parameter>? t_onFinal;

    /// <summary>The callback registered on this thread, or null.</summary>
    internal static Action<Parameter>? Current => t_onFinal;

    /// <summary>Registers <paramref name="onFinal"/> for backward passes on this thread until disposed (the previous registration is restored).</summary>
    public static IDisposable OnLeafGradientFinal(Action<Parameter> onFinal)
    {
        ArgumentNullException.ThrowIfNull(onFinal);
        Action<Parameter>? saved = t_onFinal;
        t_onFinal = onFinal;
        return new Restore(saved);
    }

    private sealed class Restore(Action<Parameter>? saved) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_onFinal = saved;
        }
    }
}
