using MaMA.Engine;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace MaMA.Interop.Torch.Parity;

/// <summary>Elementwise, reduction, view, cast and matmul cases.</summary>
public static partial class OpCatalog
{
    private static void AddCore(List<OpCase> cases)
    {
        // Broadcasting binary ops: full shape against a row vector and a column.
        cases.Add(new("add_broadcast", [new("a", [5, 33]), new("b", [33])], x => Ops.Add(x[0], x[1]), x => x[0] + x[1]));
        cases.Add(new("sub_broadcast", [new("a", [3, 1, 17]), new("b", [4, 1])], x => Ops.Sub(x[0], x[1]), x => x[0] - x[1]));
        cases.Add(new("mul_broadcast", [new("a", [2, 7, 9]), new("b", [7, 1])], x => Ops.Mul(x[0], x[1]), x => x[0] * x[1]));
        cases.Add(new("mul_same_shape", [new("a", [1025]), new("b", [1025])], x => Ops.Mul(x[0], x[1]), x => x[0] * x[1]));
        cases.Add(new("div_broadcast", [new("a", [6, 11]), new("b", [11], InputKind.Positive)], x => Ops.Div(x[0], x[1]), x => x[0] / x[1]));
        cases.Add(new("affine", [new("x", [4, 19])], x => Ops.Affine(x[0], -1.5f, 0.25f), x => x[0] * -1.5 + 0.25));

        // Reductions over one axis, several axes, all axes (the full mean on positive data: a mean
        // of zero-centred values is ~0 and its relative error would measure only rounding).
        cases.Add(new("sum_axis", [new("x", [5, 33, 3])], x => Ops.Sum(x[0], [1]), x => x[0].sum(1)));
        cases.Add(new("sum_axes_keepdim", [new("x", [4, 6, 5])], x => Ops.Sum(x[0], [0, 2], keepDim: true), x => x[0].sum([0L, 2L], keepdim: true)));
        cases.Add(new("mean_all", [new("x", [7, 13], InputKind.Positive)], x => Ops.Mean(x[0]), x => x[0].mean()));
        cases.Add(new("mean_last", [new("x", [3, 1374])], x => Ops.Mean(x[0], [-1]), x => x[0].mean([-1L])));
        cases.Add(new("max_axis", [new("x", [6, 17])], x => Ops.Max(x[0], 1).Values, x => x[0].max(1).values));
        cases.Add(new("max_axis0_keepdim", [new("x", [9, 4])], x => Ops.Max(x[0], 0, keepDim: true).Values, x => x[0].max(0, keepdim: true).values));

        // Activations.
        cases.Add(new("relu", [new("x", [3, 37])], x => Ops.Relu(x[0]), x => nn.functional.relu(x[0])));
        cases.Add(new("gelu_erf", [new("x", [5, 41])], x => Ops.Gelu(x[0], GeluForm.Erf), x => nn.functional.gelu(x[0])));
        cases.Add(new("gelu_tanh", [new("x", [5, 41])], x => Ops.Gelu(x[0], GeluForm.Tanh), x => nn.functional.gelu(x[0], approximate: TorchSharp.Modules.GELU.Approximate.tanh)));
        // A linear layer's bias fused into its GELU (ViT fc1, GPT-2 c_fc): against add then GELU.
        cases.Add(new("bias_gelu_erf", [new("y", [4, 9, 41]), new("bias", [41])], x => Ops.BiasGelu(x[0], x[1], GeluForm.Erf),
            x => nn.functional.gelu(x[0] + x[1])));
        cases.Add(new("bias_gelu_tanh", [new("y", [4, 9, 41]), new("bias", [41])], x => Ops.BiasGelu(x[0], x[1], GeluForm.Tanh),
            x => nn.functional.gelu(x[0] + x[1], approximate: TorchSharp.Modules.GELU.Approximate.tanh)));
        // A transformer branch's last bias, its LayerScale and the residual add in one pass.
        cases.Add(new("scaled_residual", [new("residual", [3, 7, 33]), new("branch", [3, 7, 33]), new("bias", [33]), new("gamma", [33])],
            x => Ops.ScaledResidual(x[0], x[1], x[2], x[3]), x => x[0] + (x[1] + x[2]) * x[3]));
        // The qkv projection's bias added in the pass that splits the heads: [B, T, 3 H D] -> [3, B, H, T, D].
        cases.Add(new("bias_split_heads", [new("y", [2, 5, 24]), new("bias", [24])], x => Ops.BiasSplitHeads(x[0], x[1], 3, 2),
            x => (x[0] + x[1]).view(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4).contiguous()));
        // The same split without a bias (GPT-2's c_attn with LoRA, whose epilogue adds the bias).
        cases.Add(new("bias_split_heads_no_bias", [new("y", [3, 4, 36])], x => Ops.BiasSplitHeads(x[0], null, 3, 3),
            x => x[0].view(3, 4, 3, 3, 4).permute(2, 0, 3, 1, 4).contiguous()));

        // Matrix products: plain, transposed operands, batched with a shared 2-D operand, broadcast batch.
        cases.Add(new("matmul", [new("a", [17, 33]), new("b", [33, 19])], x => Ops.MatMul(x[0], x[1]), x => torch.matmul(x[0], x[1])));
        cases.Add(new("matmul_transpose_a", [new("a", [33, 17]), new("b", [33, 5])], x => Ops.MatMul(x[0], x[1], transposeA: true), x => torch.matmul(x[0].t(), x[1])));
        cases.Add(new("matmul_transpose_b", [new("a", [9, 20]), new("b", [35, 20])], x => Ops.MatMul(x[0], x[1], transposeB: true), x => torch.matmul(x[0], x[1].t())));
        cases.Add(new("matmul_batched_shared_weight", [new("a", [2, 3, 7, 16]), new("b", [16, 21])], x => Ops.MatMul(x[0], x[1]), x => torch.matmul(x[0], x[1])));
        cases.Add(new("matmul_batched_transpose_both", [new("a", [3, 8, 5]), new("b", [3, 6, 8])], x => Ops.MatMul(x[0], x[1], true, true),
            x => torch.matmul(x[0].transpose(1, 2), x[1].transpose(1, 2))));
        // Attention's per-head products as HF's eager attention computes them: many small products.
        cases.Add(new("matmul_heads_scores", [new("q", [3, 4, 17, 8]), new("k", [3, 4, 17, 8])], x => Ops.MatMul(x[0], x[1], transposeB: true),
            x => torch.matmul(x[0], x[1].transpose(-1, -2))));
        cases.Add(new("matmul_broadcast_batch", [new("a", [4, 1, 5, 6]), new("b", [3, 6, 2])], x => Ops.MatMul(x[0], x[1]), x => torch.matmul(x[0], x[1])));

        // Views feeding a computation (gradients must route back through the strides).
        cases.Add(new("transpose_contiguous", [new("x", [4, 5, 6])], x => Ops.Mul(Ops.Transpose(x[0], 0, 2).Contiguous(), Ops.Transpose(x[0], 0, 2)),
            x => x[0].transpose(0, 2).contiguous() * x[0].transpose(0, 2)));
        cases.Add(new("reshape_permute", [new("x", [2, 3, 20])], x => Ops.Permute(Ops.Reshape(x[0], 2, 3, 4, 5), 0, 3, 1, 2).Contiguous(),
            x => x[0].reshape(2, 3, 4, 5).permute(0, 3, 1, 2).contiguous()));
        cases.Add(new("narrow", [new("x", [6, 9])], x => Ops.Affine(Ops.Narrow(x[0], 1, 2, 5), 2f), x => x[0].narrow(1, 2, 5) * 2));
        cases.Add(new("expand", [new("x", [3, 1])], x => Ops.Affine(Ops.Expand(x[0], 2, 3, 4), 1f), x => x[0].expand(2, 3, 4) * 1));

        // bf16 and fp16 round trips: round to nearest even; gradients pass straight through.
        cases.Add(new("cast_bf16_roundtrip", [new("x", [8, 33])], x => x[0].To(DType.BFloat16).To(DType.Float32),
            x => x[0].to(ScalarType.BFloat16).to(ScalarType.Float32), Tolerance: 0));
        cases.Add(new("cast_fp16_roundtrip", [new("x", [8, 33])], x => x[0].To(DType.Float16).To(DType.Float32),
            x => x[0].to(ScalarType.Float16).to(ScalarType.Float32), Tolerance: 0));
        // A strided view (as autocast rounds attention's q, k, v): one strided kernel on accelerators.
        cases.Add(new("cast_bf16_strided", [new("x", [6, 5, 7])], x => x[0].Permute(2, 0, 1).Narrow(1, 1, 4).To(DType.BFloat16).To(DType.Float32),
            x => x[0].permute(2, 0, 1).narrow(1, 1, 4).to(ScalarType.BFloat16).to(ScalarType.Float32), Tolerance: 0));
    }
}
