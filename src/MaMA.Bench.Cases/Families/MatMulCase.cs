using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// A plain bf16 matrix product a [M, K] @ b [K, N] (fp32 out) at one of the models' projection
/// shapes: on CUDA the engine's tensor-core GEMM, in PyTorch cuBLAS through torch.matmul. FLOPs
/// 2 M K N forward; the backward adds dA and dB (6 M K N in all).
/// </summary>
public sealed record MatMulCase(string Layer, int M, int K, int N) : BenchCase
{
    public override string Name => $"matmul {Layer} M={M} K={K} N={N} bf16";

    public override string Family => "matmul";

    public override BenchInput[] Inputs => [new("a", [M, K], DType.BFloat16), new("b", [K, N], DType.BFloat16)];

    public override long ForwardFlops => 2L * M * K * N;

    public override long ForwardBackwardFlops => 6L * M * K * N;

    public override Tensor Engine(Tensor[] x) => Ops.MatMul(x[0], x[1]);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["m"] = M,
        ["k"] = K,
        ["n"] = N,
    };
}
