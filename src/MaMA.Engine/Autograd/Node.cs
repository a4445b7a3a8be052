using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// One recorded op on the tape. An op that makes a tensor requiring grad attaches a node holding
/// what its backward needs; <see cref="Backward"/> maps the output gradient to one gradient per
/// input (null where an input is not differentiable). Nodes are ordered by <see cref="Sequence"/>,
/// their creation order, so reverse order is a valid topological order.
/// <para>
/// The graph links are <see cref="Edges"/>, which hold no tensor values; what a backward reads (its
/// saved tensors) each node keeps itself, and only that. A node does not hold its output either:
/// the sweep keys output gradients by node. So an activation lives as long as some backward needs it
/// or the caller holds it, as in PyTorch.
/// </para>
/// </summary>
public abstract class Node
{
    private static long s_counter;

    protected Node(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        Edges = new Edge[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) Edges[i] = Edge.To(inputs[i]);
        Sequence = Interlocked.Increment(ref s_counter);
    }

    /// <summary>Op name as in the op catalog ("matmul", "layer_norm", ...).</summary>
    public abstract string Name { get; }

    /// <summary>One edge per input, in the order of <see cref="Backward"/>'s gradients.</summary>
    public Edge[] Edges { get; }

    public long Sequence { get; }

    /// <summary>A reshape, permute, narrow, expand or contiguous copy: one input, nothing saved, the gradient only re-laid out.</summary>
    internal virtual bool IsView => false;

    /// <summary>True when some input wanted a gradient (the op must be recorded).</summary>
    public bool AnyInputRequiresGrad
    {
        get
        {
            foreach (Edge e in Edges)
                if (e.RequiresGrad) return true;
            return false;
        }
    }

    /// <summary>Gradients w.r.t. the inputs (<see cref="Edges"/>), each shaped like its input, given dL/dOutput.</summary>
    public abstract Tensor?[] Backward(Tensor gradOutput);

    private List<Tensor>? _owned;
    private List<WeakReference<Tensor>>? _ownedIfSaved;
    private bool _freed;

    /// <summary>
    /// Marks saved tensors that the op made for this node alone (log-sum-exps, normalisation
    /// statistics, widened or bf16 copies): nothing else holds them, so <see cref="ReleaseSaved"/>
    /// disposes them once the backward has run instead of leaving their blocks to the finalizer.
    /// Never pass a tensor that is also an op's input or output.
    /// </summary>
    internal Node Owning(params Tensor?[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (Tensor? t in tensors)
            if (t is not null) (_owned ??= []).Add(t);
        return this;
    }

    /// <summary>
    /// Like <see cref="Owning"/> for tensors the node may or may not have saved (the autocast copies
    /// an op's hook made: a matmul keeps its input's copy only when the weight trains): held weakly,
    /// so one the node did not save dies with the next collection, and disposed after the backward
    /// when the node kept it.
    /// </summary>
    internal void OwningIfSaved(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        (_ownedIfSaved ??= []).Add(new WeakReference<Tensor>(tensor));
    }

    /// <summary>
    /// Disposes the owned saved tensors: after this node's backward in a sweep that does not retain
    /// the graph (PyTorch frees saved tensors the same way), or at once when the op was not
    /// recorded. A later backward through this node is then an error.
    /// </summary>
    internal void ReleaseSaved()
    {
        if (_ownedIfSaved is not null)
        {
            foreach (WeakReference<Tensor> w in _ownedIfSaved)
                if (w.TryGetTarget(out Tensor? t)) t.Dispose();
            _ownedIfSaved = null;
            _freed = true;
        }
        if (_owned is null) return;
        foreach (Tensor t in _owned) t.Dispose();
        _owned = null;
        _freed = true;
    }

    /// <summary><paramref name="made"/> when the op made it (a copy), null when it is <paramref name="original"/> itself: for <see cref="Owning"/>.</summary>
    internal static Tensor? IfCopy(Tensor? made, Tensor? original) => ReferenceEquals(made, original) ? null : made;

    /// <summary>Throws when <see cref="ReleaseSaved"/> freed tensors this node's backward reads.</summary>
    internal void ThrowIfFreed()
    {
        if (_freed)
            throw new InvalidOperationException(
                $"Backward through {this} a second time: the tensors it saved were freed after the first backward. Pass retainGraph: true to the first Backward.");
    }

    public override string ToString() => $"{Name}#{Sequence}";
}
