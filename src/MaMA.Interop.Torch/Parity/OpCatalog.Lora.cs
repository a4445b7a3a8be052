using MaMA.Engine;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// LoRA linear (family 2): y = x W + b + scaling * (x A^T) B^T against the same expression in
/// libtorch, both weight layouts, odd sizes (M 17, in 33, out 40), r 8 and r 1, with and without
/// bias, a 3-D input, and bf16 x. Dropout is off (masks cannot match libtorch's generator; its
/// contract is tested in LoraTests). The base weight is frozen: it is not differentiable here, and
/// the engine computes no gradient for it.
/// </summary>
public static partial class OpCatalog
{
    static partial void AddLoraFamily(List<OpCase> cases)
    {
        cases.Add(LoraCase("lora_linear_conv1d", [17, 33], 40, 8, WeightLayout.Conv1D, bias: true, scaling: 4f));
        cases.Add(LoraCase("lora_linear_conv1d_nobias", [17, 33], 40, 8, WeightLayout.Conv1D, bias: false, scaling: 4f));
        cases.Add(LoraCase("lora_linear_linear", [17, 33], 40, 8, WeightLayout.Linear, bias: true, scaling: 4f));
        cases.Add(LoraCase("lora_linear_linear_r1_nobias", [17, 33], 40, 1, WeightLayout.Linear, bias: false, scaling: 2.5f));
        cases.Add(LoraCase("lora_linear_conv1d_r1", [17, 33], 40, 1, WeightLayout.Conv1D, bias: true, scaling: 32f));
        cases.Add(LoraCase("lora_linear_conv1d_3d", [3, 7, 33], 40, 8, WeightLayout.Conv1D, bias: true, scaling: 4f));
        cases.Add(LoraCase("lora_linear_conv1d_bf16", [17, 33], 40, 8, WeightLayout.Conv1D, bias: true, scaling: 4f, bf16: true));
    }

    /// <summary>
    /// Inputs x, weight (not differentiable), [bias], lora_a [r, in], lora_b [out, r]. fp32 tolerance
    /// 1e-4 forward and backward; with bf16 x (engine x.To(BFloat16), torch x.to(bfloat16).to(float32)) 2e-2.
    /// </summary>
    internal static OpCase LoraCase(string name, int[] xShape, int outF, int r, WeightLayout layout, bool bias, float scaling, bool bf16 = false)
    {
        int inF = xShape[^1];
        int[] wShape = layout == WeightLayout.Conv1D ? [inF, outF] : [outF, inF];
        var inputs = new List<OpInput> { new("x", xShape), new("weight", wShape, Differentiable: false) };
        if (bias) inputs.Add(new("bias", [outF]));
        inputs.Add(new("lora_a", [r, inF]));
        inputs.Add(new("lora_b", [outF, r]));
        double tolerance = bf16 ? 2e-2 : 1e-4;
        return new OpCase(name, [.. inputs],
            x =>
            {
                EngineTensor input = bf16 ? x[0].To(DType.BFloat16) : x[0];
                return Ops.LoraLinear(input, x[1], bias ? x[2] : null, x[^2], x[^1], scaling, layout);
            },
            x =>
            {
                TorchTensor input = bf16 ? x[0].to(ScalarType.BFloat16).to(ScalarType.Float32) : x[0];
                TorchTensor w = layout == WeightLayout.Conv1D ? x[1] : x[1].t();
                TorchTensor y = torch.matmul(input, w);
                if (bias) y = y + x[2];
                return y + scaling * torch.matmul(torch.matmul(input, x[^2].t()), x[^1].t());
            },
            Tolerance: tolerance, GradTolerance: tolerance);
    }
}
