using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Autograd;

/// <summary>
/// Where the gradient of one node input goes, without the input's values (PyTorch's "next edge"):
/// the node that produced the input, or the leaf that accumulates it, plus the input's shape, dtype
/// and device for checks and for backward formulas that only need those (add, views, casts).
/// <para>
/// Holding an edge does not keep the input's storage alive. A node keeps an input's values only when
/// its backward reads them (saved tensors): the sum of two activations keeps neither, a product of
/// two keeps each for the other's gradient. So the memory a forward leaves for its backward is what
/// the backward formulas need, not every intermediate tensor of the graph.
/// </para>
/// </summary>
public readonly struct Edge
{
    private readonly int[] _shape;

    private Edge(Node? producer, Tensor? leaf, bool requiresGrad, int[] shape, DType dtype, Device device)
    {
        Producer = producer;
        Leaf = leaf;
        RequiresGrad = requiresGrad;
        _shape = shape;
        DType = dtype;
        Device = device;
    }

    /// <summary>The recorded op that produced a non-leaf input; its output gradient collects this edge's gradient.</summary>
    public Node? Producer { get; }

    /// <summary>A leaf input that requires grad (a parameter or a user tensor): its <see cref="Tensor.Grad"/> accumulates the gradient. Null otherwise.</summary>
    public Tensor? Leaf { get; }

    /// <summary>Whether the input wanted a gradient when the op ran.</summary>
    public bool RequiresGrad { get; }

    /// <summary>The input's shape.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    public int Rank => _shape.Length;

    /// <summary>A copy of the input's shape.</summary>
    public int[] ShapeArray => (int[])_shape.Clone();

    public DType DType { get; }

    public Device Device { get; }

    /// <summary>The edge to <paramref name="input"/> as it is now.</summary>
    public static Edge To(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        bool requires = input.RequiresGrad;
        return new Edge(input.GradFn, requires && input.GradFn is null ? input : null, requires, input.ShapeArray, input.DType, input.Device);
    }
}
