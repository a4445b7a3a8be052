using System.Text.Json.Nodes;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// One kernel-family op at one shape: its inputs, the engine computation, and the FLOPs it needs
/// (matrix products only, 2 per multiply-add; elementwise work is left out). The same case list is
/// mirrored by tools/device_bench.py (PyTorch on a GPU) and checked equal by a test, through
/// <see cref="Describe"/>.
/// </summary>
public abstract record BenchCase
{
    /// <summary>Stable row name in the console table and the JSON (matched by name across sides).</summary>
    public abstract string Name { get; }

    /// <summary>attention, lora_linear, sla_loss, clip_loss, ntxent_loss, matmul, layer_norm, layer_scale, qkv_split, bias_gelu, scaled_residual or bias_split_heads.</summary>
    public abstract string Family { get; }

    public abstract BenchInput[] Inputs { get; }

    /// <summary>FLOPs of one forward.</summary>
    public abstract long ForwardFlops { get; }

    /// <summary>FLOPs of one forward plus its backward.</summary>
    public abstract long ForwardBackwardFlops { get; }

    /// <summary>The engine computation over inputs in <see cref="Inputs"/> order.</summary>
    public abstract Tensor Engine(Tensor[] x);

    /// <summary>The family's shape parameters, named as in tools/device_bench.py.</summary>
    protected abstract JsonObject Parameters();

    /// <summary>The storage dtype named as PyTorch does: "fp32" or "bf16" (of the first input).</summary>
    public string DTypeName => Inputs[0].DType == DType.BFloat16 ? "bf16" : "fp32";

    /// <summary>Everything that must agree with the PyTorch script's case of the same name.</summary>
    public JsonObject Describe() => new()
    {
        ["name"] = Name,
        ["family"] = Family,
        ["dtype"] = DTypeName,
        ["params"] = Parameters(),
        ["inputs"] = new JsonArray(Inputs.Select(i => (JsonNode)new JsonObject
        {
            ["name"] = i.Name,
            ["shape"] = new JsonArray(i.Shape.Select(d => (JsonNode)d).ToArray()),
            ["differentiable"] = i.Differentiable,
        }).ToArray()),
        ["forward_flops"] = ForwardFlops,
        ["forward_backward_flops"] = ForwardBackwardFlops,
    };

    public sealed override string ToString() => Name;
}
