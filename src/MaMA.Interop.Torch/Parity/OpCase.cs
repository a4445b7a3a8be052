using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>How an op input is drawn.</summary>
public enum InputKind
{
    /// <summary>fp32 from N(0, 1).</summary>
    Normal,

    /// <summary>fp32 from U(0.5, 2): positive and away from zero (divisors, variances).</summary>
    Positive,

    /// <summary>int64 class or token ids in [0, High).</summary>
    Index,
}

/// <summary>One named input of an op case.</summary>
/// <param name="Differentiable">Whether the parity check compares this input's gradient.</param>
/// <param name="High">Exclusive upper bound for <see cref="InputKind.Index"/>.</param>
/// <param name="GradFloor">
/// The least norm this input's gradient error is measured against (0: plain relative error). A
/// learnable log-scale's gradient is one sum of many terms of order 1 (the logits times their
/// gradients); for some inputs they cancel to ~1e-4, and then fp32 rounding of order 1e-8 reads
/// as a relative error above 1e-4 on both sides, libtorch's included. Such an input takes 1e-2.
/// </param>
public sealed record OpInput(string Name, int[] Shape, InputKind Kind = InputKind.Normal, bool Differentiable = true, int High = 0,
    double GradFloor = 0);

/// <summary>
/// An op checked against libtorch: the same inputs go through the engine and through TorchSharp,
/// and the output plus every differentiable input's gradient (for a random upstream gradient)
/// must agree within <see cref="Tolerance"/> (relative L2 error ||x - ref|| / ||ref||).
/// Cases are the single source for the live parity tests and for the golden files.
/// </summary>
/// <param name="Name">Stable case name; also the golden file name (golden/ops/{Name}.safetensors).</param>
/// <param name="Engine">The engine computation over engine tensors (same order as Inputs).</param>
/// <param name="Torch">The reference computation in TorchSharp.</param>
public sealed record OpCase(
    string Name,
    OpInput[] Inputs,
    Func<EngineTensor[], EngineTensor> Engine,
    Func<TorchTensor[], TorchTensor> Torch,
    double Tolerance = 1e-5,
    double GradTolerance = 1e-4)
{
    public override string ToString() => Name;
}
