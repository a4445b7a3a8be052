using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// Whether ops record themselves on the tape (per thread). <c>using (GradMode.NoGrad()) { ... }</c>
/// turns recording off for evaluation, optimizer updates and backward passes themselves.
/// </summary>
public static class GradMode
{
    [ThreadStatic]
    private static int t_disabledDepth;

    public static bool IsEnabled => t_disabledDepth == 0;

    public static IDisposable NoGrad()
    {
        t_disabledDepth++;
        return new Scope();
    }

    /// <summary>
    /// Turns recording back on inside a no-grad region (as torch.enable_grad) until disposed; used by
    /// activation recomputation, whose backward re-runs a block with the tape on.
    /// </summary>
    public static IDisposable EnableGrad()
    {
        int saved = t_disabledDepth;
        t_disabledDepth = 0;
        return new RestoreScope(saved);
    }

    /// <summary>True when an op over these inputs must be recorded.</summary>
    public static bool ShouldRecord(params Tensor?[] inputs)
    {
        if (!IsEnabled) return false;
        foreach (Tensor? t in inputs)
            if (t is not null && t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Attaches <paramref name="node"/> to <paramref name="output"/> when any node input requires grad.</summary>
    public static Tensor RecordIfNeeded(Tensor output, Node node)
    {
        if (IsEnabled && node.AnyInputRequiresGrad)
        {
            output.GradFn = node;
            output.RequiresGrad = true;
        }
        else
        {
            node.ReleaseSaved(); // not recorded: what the op made for a backward is garbage now
        }
        return output;
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_disabledDepth--;
        }
    }

    private sealed class RestoreScope(int depth) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_disabledDepth = depth;
        }
    }
}
