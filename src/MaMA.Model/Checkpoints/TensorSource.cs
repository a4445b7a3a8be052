using MaMA.Engine.Tensors;

namespace MaMA.Model.Checkpoints;

/// <summary>
/// A tensor known by dtype and shape before its bytes are read: checkpoint readers hand these out
/// so that a 10 GB import converts and writes one tensor at a time instead of holding every
/// weight in memory. <paramref name="Origin"/> names the file it comes from, for error messages.
/// <paramref name="Owned"/>: each <see cref="Read"/> returns a fresh tensor the caller disposes
/// (files); false for tensors that live elsewhere (<see cref="Of"/>).
/// </summary>
public sealed record TensorSource(DType DType, int[] Shape, Func<Tensor> Read, string Origin, bool Owned = true)
{
    /// <summary>Wraps an in-memory tensor (the caller keeps ownership; <see cref="Read"/> returns it as is).</summary>
    public static TensorSource Of(Tensor t, string origin = "memory") => new(t.DType, t.ShapeArray, () => t, origin, Owned: false);

    /// <summary>
    /// Same bytes read through <paramref name="transform"/> (a transpose, a cast) with the new dtype
    /// and shape; the intermediate tensor is disposed when it was ours.
    /// </summary>
    public TensorSource Map(DType dtype, int[] shape, Func<Tensor, Tensor> transform) => new(dtype, shape, () =>
    {
        Tensor t = Read();
        Tensor r = transform(t);
        if (Owned && !ReferenceEquals(r, t)) t.Dispose();
        return r;
    }, Origin, Owned);

    /// <summary>Reads the tensor and hands it to <paramref name="use"/>, disposing it afterwards when owned.</summary>
    public T Use<T>(Func<Tensor, T> use)
    {
        Tensor t = Read();
        try
        {
            return use(t);
        }
        finally
        {
            if (Owned) t.Dispose();
        }
    }
}
