using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// A single-input node whose input gradient is zero outside a window of the input: a narrow view
/// (attention's q, k and v are three narrows of one qkv projection). Its plain backward allocates a
/// zeroed input-sized gradient and copies the window in, and the sweep then adds the three such
/// gradients of the qkv projection with two full-size sums. When the input's gradient so far is a
/// tensor the sweep made itself and nothing else can see, <see cref="Backprop"/> instead calls
/// <see cref="AddWindowInto"/>: the window is added in place, and nothing input-sized is allocated.
/// </summary>
internal interface IWindowGradient
{
    /// <summary>full (the input's gradient so far: contiguous fp32, owned by the sweep) += dy in this node's window.</summary>
    void AddWindowInto(Tensor full, Tensor dy);
}
