using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// One recorded op on the tape. An op that makes a tensor requiring grad attaches a node holding
/// what its backward needs; <see cref="Backward"/> maps the output gradient to one gradient per
/// input (null where an input is not differentiable). Nodes are ordered by <see cref="Sequence"/>,
/// their creation order, so reverse order is a valid topological order.
/// </summary>
public abstract class Node
{
    private static long s_counter;

    protected Node(params Tensor[] inputs)
    {
        Inputs = inputs;
        Sequence = Interlocked.Increment(ref s_counter);
    }

    /// <summary>Op name as in the op catalog ("matmul", "layer_norm", ...).</summary>
    public abstract string Name { get; }

    public Tensor[] Inputs { get; }

    public long Sequence { get; }

    /// <summary>The tensor this node produced (set when it is recorded).</summary>
    public Tensor? Output { get; internal set; }

    /// <summary>Gradients w.r.t. <see cref="Inputs"/>, each shaped like its input, given dL/dOutput.</summary>
    public abstract Tensor?[] Backward(Tensor gradOutput);

    public override string ToString() => $"{Name}#{Sequence}";
}
