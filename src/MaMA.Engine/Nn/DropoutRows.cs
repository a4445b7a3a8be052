namespace MaMA.Engine.Nn;

/// <summary>
/// Where this process's samples sit in the whole batch (per thread), so that random masks do not
/// depend on how a batch is split over data-parallel ranks. A rank that computes samples
/// [first, first + count) of a global micro-batch holds <c>using (DropoutRows.Scope(first, count))</c>
/// around that micro-batch's forward and backward; <see cref="LoraLinear"/> then draws the dropout
/// mask of each element at its index in the whole batch, which is the mask one process with the
/// whole batch draws. Outside a scope (one process) the index base is 0.
/// </summary>
public static class DropoutRows
{
    [ThreadStatic]
    private static int t_first;

    [ThreadStatic]
    private static int t_count;

    /// <summary>Samples [<paramref name="first"/>, first + <paramref name="count"/>) of the batch until disposed.</summary>
    public static IDisposable Scope(int first, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        (int savedFirst, int savedCount) = (t_first, t_count);
        (t_first, t_count) = (first, count);
        return new Restore(savedFirst, savedCount);
    }

    /// <summary>
    /// Index in the whole batch of the first element of <paramref name="x"/>, whose leading axis runs
    /// over this process's samples ([samples, ...]): first x (elements per sample). 0 outside a scope.
    /// </summary>
    public static long ElementBase(Tensors.Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return ElementBase(x.Numel, $"a tensor of shape {Tensors.Shape.Format(x.Shape)}");
    }

    /// <summary>
    /// <see cref="ElementBase(Tensors.Tensor)"/> for a tensor of <paramref name="elements"/> elements
    /// that need not exist (attention's probabilities [B, H, T, T] inside the fused kernels);
    /// <paramref name="what"/> names it in the error.
    /// </summary>
    public static long ElementBase(long elements, string what)
    {
        if (t_count == 0 || t_first == 0) return 0;
        if (elements % t_count != 0)
            throw new InvalidOperationException($"DropoutRows: {what} ({elements} elements) is not {t_count} samples of equal size.");
        return t_first * (elements / t_count);
    }

    private sealed class Restore(int first, int count) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            (t_first, t_count) = (first, count);
        }
    }
}
