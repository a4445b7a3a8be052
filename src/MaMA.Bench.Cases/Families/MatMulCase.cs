using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// A plain matrix product a [M, K] @ b [K, N] (fp32 out) at one of the models' projection shapes,
/// bf16 or fp32 operands. On CUDA: cuBLAS, or with <c>MAMA_CUBLAS=off</c> the generated kernels
/// (bf16: the tensor-core GEMM; fp32: the tiled GEMM OpenCL GPUs run). PyTorch: torch.matmul
/// (cuBLAS; fp32 without TF32). FLOPs 2 M K N forward; the backward adds dA and dB (6 M K N in all).
/// </summary>
public sealed record MatMulCase(string Layer, int M, int K, int N, bool Bf16 = true) : BenchCase
{
    public override string Name => $"matmul {Layer} M={M} K={K} N={N} {(Bf16 ? "bf16" : "fp32")}";

    public override string Family => "matmul";

    private DType Operands => Bf16 ? DType.BFloat16 : DType.Float32;

    public override BenchInput[] Inputs => [new("a", [M, K], Operands), new("b", [K, N], Operands)];

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
