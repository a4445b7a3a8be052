using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Nn;

/// <summary>
/// A trainable leaf tensor owned by a <see cref="Module"/>. It shares storage with the tensor it
/// was made from (a contiguous copy is taken first when that tensor is a strided view), records
/// no history, and is updated in place by optimizers, so every holder sees the new values.
/// <see cref="Tensor.Name"/> is the checkpoint key (set to the full dotted state-dict key when
/// the module tree enumerates it).
/// </summary>
public sealed class Parameter : Tensor
{
    public Parameter(Tensor data, string? name = null, bool noWeightDecay = false)
        : base(Prepare(data))
    {
        Name = name;
        NoWeightDecay = noWeightDecay;
        RequiresGrad = true;
    }

    /// <summary>
    /// Excluded from weight decay (biases, norm gains and shifts, scales, special-token
    /// embeddings); see <see cref="Optim.ParamGroup.DecayAndNoDecay"/>.
    /// </summary>
    public bool NoWeightDecay { get; set; }

    /// <summary>True while gradients do not flow to this parameter.</summary>
    public bool IsFrozen => !RequiresGrad;

    /// <summary>Stops gradient flow; the parameter keeps its values and no optimizer moves it (its Grad is cleared).</summary>
    public void Freeze()
    {
        RequiresGrad = false;
        Grad = null;
    }

    /// <summary>Lets gradients flow again.</summary>
    public void Unfreeze() => RequiresGrad = true;

    /// <summary>
    /// Overwrites the values in place with <paramref name="source"/> (same shape; any device,
    /// converted to this parameter's dtype). Holders of this parameter, optimizers included, see the change.
    /// </summary>
    public void CopyFrom(Tensor source) => TensorCopy.Into(this, source, Name ?? "parameter");

    public override string ToString() => $"Parameter({Name ?? "?"}, {Tensors.Shape.Format(ShapeArray)}, {DType}, {Device.Spec}{(IsFrozen ? ", frozen" : "")})";

    private static Tensor Prepare(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.DType.IsFloating())
            throw new ArgumentException($"A parameter must be a floating tensor, got {data.DType}.", nameof(data));
        if (data.IsContiguous) return data;
        using (GradMode.NoGrad()) return data.Contiguous();
    }
}

/// <summary>In-place value copies for parameters, buffers and optimizer state.</summary>
internal static class TensorCopy
{
    /// <summary>Writes <paramref name="source"/>'s values into contiguous <paramref name="target"/> (same shape).</summary>
    public static void Into(Tensor target, Tensor source, string what)
    {
        if (!Tensors.Shape.SameShape(target.Shape, source.Shape))
            throw new ArgumentException($"{what}: cannot copy a tensor of shape {Tensors.Shape.Format(source.Shape)} into one of shape {Tensors.Shape.Format(target.Shape)}.");
        if (!target.IsContiguous)
            throw new InvalidOperationException($"{what}: internal error: in-place copy into a strided view.");
        if (source.DType != target.DType && !(source.DType.IsFloating() && target.DType.IsFloating()))
            throw new ArgumentException($"{what}: cannot copy {source.DType} values into a {target.DType} tensor.");
        using (GradMode.NoGrad())
        {
            Tensor converted = source.DType == target.DType ? source : source.To(target.DType);
            target.CopyFromHost(converted.ToBytes());
        }
    }
}
