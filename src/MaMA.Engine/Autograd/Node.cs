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

    public override string ToString() => $"{Name}#{Sequence}";
}
