using MaMA.Bench.Cases;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// LoRA linear with the Conv1D weight [in, out]: libtorch computes x @ W + b + scaling (x @ A^T) @ B^T
/// with its CPU matmuls (as the parity catalog's LoraCase).
/// </summary>
public static partial class FamilyBench
{
    private static Func<TorchTensor[], TorchTensor> Lora(LoraCase l) =>
        x => torch.matmul(x[0], x[1]) + x[2] + l.Scaling * torch.matmul(torch.matmul(x[0], x[3].t()), x[4].t());
}
