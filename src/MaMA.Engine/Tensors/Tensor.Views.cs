namespace MaMA.Engine.Tensors;

/// <summary>Instance spellings of the view ops (see <see cref="Ops"/>).</summary>
public partial class Tensor
{
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);

    public Tensor Transpose(int axis0, int axis1) => Ops.Transpose(this, axis0, axis1);

    public Tensor Permute(params int[] order) => Ops.Permute(this, order);

    public Tensor Narrow(int axis, int start, int length) => Ops.Narrow(this, axis, start, length);

    public Tensor Expand(params int[] shape) => Ops.Expand(this, shape);

    public Tensor Contiguous() => Ops.Contiguous(this);

    /// <summary>Converts the element type (floating casts are differentiable).</summary>
    public Tensor To(DType dtype) => Ops.Cast(this, dtype);
}
