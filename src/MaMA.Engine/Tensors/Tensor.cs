using ILGPU;
using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Memory;

namespace MaMA.Engine.Tensors;

/// <summary>
/// An n-dimensional array on a device: storage + element offset + shape + strides (in elements)
/// + dtype. Views (reshape, transpose, slice) share storage and never copy. Autograd state lives
/// here too: <see cref="RequiresGrad"/>, <see cref="Grad"/> and the node that produced it.
/// </summary>
public partial class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly long[] _strides;
    private bool _requiresGrad;
    private int _disposed;

    internal Tensor(Storage storage, long offset, int[] shape, long[] strides, DType dtype)
    {
        Storage = storage;
        Offset = offset;
        _shape = shape;
        _strides = strides;
        DType = dtype;
        Numel = Tensors.Shape.Numel(shape);
    }

    /// <summary>Shares <paramref name="other"/>'s storage (used by views and parameters).</summary>
    protected Tensor(Tensor other)
        : this(other.Storage, other.Offset, other._shape, other._strides, other.DType)
    {
        Storage.AddReference();
    }

    internal Storage Storage { get; }

    /// <summary>Element offset of this view's first element in its storage.</summary>
    public long Offset { get; }

    public ReadOnlySpan<int> Shape => _shape;

    public ReadOnlySpan<long> Strides => _strides;

    public int[] ShapeArray => (int[])_shape.Clone();

    public int Rank => _shape.Length;

    public long Numel { get; }

    public DType DType { get; }

    public Device Device => Storage.Device;

    /// <summary>Optional name (parameters: the checkpoint key).</summary>
    public string? Name { get; set; }

    /// <summary>Elements spanned from the first element to the last one a strided view can reach, plus one.</summary>
    public long Extent
    {
        get
        {
            if (Numel == 0) return 0;
            long extent = 1;
            for (int i = 0; i < Rank; i++) extent += (long)(_shape[i] - 1) * _strides[i];
            return extent;
        }
    }

    public int Size(int axis) => _shape[Tensors.Shape.Axis(axis, Rank)];

    /// <summary>True when elements are laid out row-major without gaps (always for an empty tensor, as in PyTorch).</summary>
    public bool IsContiguous
    {
        get
        {
            if (Numel == 0) return true;
            long expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    // ---- autograd ----

    /// <summary>
    /// Whether gradients flow to this tensor. Set on leaves (inputs, parameters); ops set it on
    /// their outputs when any input requires grad and grad mode is on.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (GradFn is not null && !value)
                throw new InvalidOperationException("Cannot clear RequiresGrad on a tensor computed by a recorded op; use Detach().");
            if (value && !DType.IsFloating())
                throw new InvalidOperationException($"Only floating tensors can require gradients, not {DType}.");
            _requiresGrad = value;
        }
    }

    /// <summary>Accumulated gradient of a leaf after <see cref="Backward"/>.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The recorded op that produced this tensor (null for leaves).</summary>
    public Node? GradFn { get; internal set; }

    public bool IsLeaf => GradFn is null;

    /// <summary>Runs reverse-mode differentiation from this scalar (or with an explicit upstream gradient).</summary>
    /// <param name="gradient">dL/dthis; null for a scalar (1).</param>
    /// <param name="retainGraph">Keep every node's saved tensors for another backward through the same graph (else each node frees those it owns after its backward, as PyTorch does).</param>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Backprop.Run(this, gradient, retainGraph);

    /// <summary>Same data, cut from the graph.</summary>
    public Tensor Detach()
    {
        Storage.AddReference();
        return new Tensor(Storage, Offset, _shape, _strides, DType);
    }

    // ---- memory ----

    /// <summary>
    /// Releases this tensor's reference to its storage; memory goes back to the device's caching
    /// allocator when the last tensor sharing it is disposed (or collected).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Storage.Release();
        }
    }

    /// <summary>Address of the first element (fast CPU backend only).</summary>
    internal unsafe T* Ptr<T>() where T : unmanaged
    {
        Storage.ThrowIfReleased();
        if (Storage is not CpuStorage cpu)
            throw new InvalidOperationException($"Tensor is on {Device.Name}, not the fast CPU backend.");
        return (T*)(cpu.Address + (nint)(Offset * DType.Size()));
    }

    /// <summary>
    /// ILGPU view of <paramref name="count"/> elements from this tensor's first element (default: Numel).
    /// </summary>
    internal ArrayView<T> View<T>(long count = -1) where T : unmanaged
    {
        Storage.ThrowIfReleased();
        if (Storage is not IlgpuStorage ilgpu)
            throw new InvalidOperationException($"Tensor is on {Device.Name}, not an ILGPU device.");
        long n = count < 0 ? Numel : count;
        int size = DType.Size();
        return ilgpu.Buffer.View.AsContiguous().SubView(Offset * size, Math.Max(n, 1) * size).Cast<T>().SubView(0, n);
    }

    public override string ToString() => $"Tensor({Tensors.Shape.Format(_shape)}, {DType}, {Device.Spec}{(RequiresGrad ? ", requires_grad" : "")})";
}
