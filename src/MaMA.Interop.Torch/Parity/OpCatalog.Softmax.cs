using MaMA.Engine;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace MaMA.Interop.Torch.Parity;

/// <summary>Softmax, log-softmax, cross-entropy, L2 normalisation and layer norm cases.</summary>
public static partial class OpCatalog
{
    static partial void AddSoftmaxFamily(List<OpCase> cases)
    {
        // Softmax: last axis, a middle axis, the first axis, large logits (stability), a single class.
        cases.Add(new("softmax_last", [new("x", [7, 33])], x => Ops.Softmax(x[0]), x => nn.functional.softmax(x[0], -1)));
        cases.Add(new("softmax_3d_last", [new("x", [3, 5, 129])], x => Ops.Softmax(x[0], -1), x => nn.functional.softmax(x[0], -1)));
        cases.Add(new("softmax_middle_axis", [new("x", [3, 5, 7])], x => Ops.Softmax(x[0], 1), x => nn.functional.softmax(x[0], 1)));
        cases.Add(new("softmax_axis0", [new("x", [6, 11])], x => Ops.Softmax(x[0], 0), x => nn.functional.softmax(x[0], 0)));
        // At 30x the rows are nearly one-hot: the forward must stay finite and exact, but the gradient
        // y * (dy - sum dy y) is then cancellation noise in fp32 on both sides, so only the output is
        // compared. Logits shifted by +500 (exp would overflow without the max) check the gradient.
        cases.Add(new("softmax_large_logits", [new("x", [5, 37], Differentiable: false)], x => Ops.Softmax(Ops.Scale(x[0], 30f)), x => nn.functional.softmax(x[0] * 30, -1)));
        cases.Add(new("softmax_shifted_logits", [new("x", [5, 37])], x => Ops.Softmax(Ops.Affine(x[0], 3f, 500f)), x => nn.functional.softmax(x[0] * 3 + 500, -1)));
        cases.Add(new("softmax_one_class", [new("x", [6, 1])], x => Ops.Softmax(x[0]), x => nn.functional.softmax(x[0], -1)));

        // Log-softmax.
        cases.Add(new("log_softmax_last", [new("x", [7, 33])], x => Ops.LogSoftmax(x[0]), x => nn.functional.log_softmax(x[0], -1)));
        cases.Add(new("log_softmax_middle_axis", [new("x", [4, 9, 6])], x => Ops.LogSoftmax(x[0], 1), x => nn.functional.log_softmax(x[0], 1)));
        cases.Add(new("log_softmax_large_logits", [new("x", [5, 17])], x => Ops.LogSoftmax(Ops.Scale(x[0], 30f)), x => nn.functional.log_softmax(x[0] * 30, -1)));
        cases.Add(new("log_softmax_two_classes", [new("x", [9, 2])], x => Ops.LogSoftmax(x[0]), x => nn.functional.log_softmax(x[0], -1)));

        // Cross-entropy (mean): int64 and int32 targets, large logits, two classes, label smoothing,
        // an ignore index that is a real class id (so rows really get ignored).
        cases.Add(new("cross_entropy", [new("logits", [7, 33]), new("targets", [7], InputKind.Index, Differentiable: false, High: 33)],
            x => Ops.CrossEntropy(x[0], x[1]), x => nn.functional.cross_entropy(x[0], x[1])));
        cases.Add(new("cross_entropy_int32_targets", [new("logits", [5, 12]), new("targets", [5], InputKind.Index, Differentiable: false, High: 12)],
            x => Ops.CrossEntropy(x[0], x[1].To(DType.Int32)), x => nn.functional.cross_entropy(x[0], x[1])));
        cases.Add(new("cross_entropy_large_logits", [new("logits", [6, 129]), new("targets", [6], InputKind.Index, Differentiable: false, High: 129)],
            x => Ops.CrossEntropy(Ops.Scale(x[0], 30f), x[1]), x => nn.functional.cross_entropy(x[0] * 30, x[1])));
        cases.Add(new("cross_entropy_two_classes", [new("logits", [9, 2]), new("targets", [9], InputKind.Index, Differentiable: false, High: 2)],
            x => Ops.CrossEntropy(x[0], x[1]), x => nn.functional.cross_entropy(x[0], x[1])));
        cases.Add(new("cross_entropy_label_smoothing", [new("logits", [8, 10]), new("targets", [8], InputKind.Index, Differentiable: false, High: 10)],
            x => Ops.CrossEntropy(x[0], x[1], labelSmoothing: 0.1f), x => nn.functional.cross_entropy(x[0], x[1], label_smoothing: 0.1)));
        cases.Add(new("cross_entropy_ignore_index", [new("logits", [13, 5]), new("targets", [13], InputKind.Index, Differentiable: false, High: 5)],
            x => Ops.CrossEntropy(x[0], x[1], labelSmoothing: 0.2f, ignoreIndex: 0),
            x => nn.functional.cross_entropy(x[0], x[1], ignore_index: 0, label_smoothing: 0.2)));

        // L2 normalisation (torch.nn.functional.normalize, p = 2).
        cases.Add(new("l2_normalize_last", [new("x", [7, 33])], x => Ops.L2Normalize(x[0]), x => nn.functional.normalize(x[0], dim: -1)));
        cases.Add(new("l2_normalize_middle_axis", [new("x", [2, 5, 17])], x => Ops.L2Normalize(x[0], 1), x => nn.functional.normalize(x[0], dim: 1)));
        cases.Add(new("l2_normalize_axis0", [new("x", [5, 6])], x => Ops.L2Normalize(x[0], 0), x => nn.functional.normalize(x[0], dim: 0)));
        // (A one-element axis is left out: its gradient is exactly zero, so only rounding noise would be compared.)
        cases.Add(new("l2_normalize_two_elements", [new("x", [6, 2])], x => Ops.L2Normalize(x[0]), x => nn.functional.normalize(x[0], dim: -1)));

        // Layer norm over the last axis: affine (GPT-2 eps), ViT eps on 3-d input, weight only, no affine, two channels.
        cases.Add(new("layer_norm_affine", [new("x", [7, 33]), new("weight", [33]), new("bias", [33])],
            x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5f), x => nn.functional.layer_norm(x[0], [33], x[1], x[2], 1e-5)));
        cases.Add(new("layer_norm_vit_3d", [new("x", [3, 5, 129]), new("weight", [129]), new("bias", [129])],
            x => Ops.LayerNorm(x[0], x[1], x[2], 1e-6f), x => nn.functional.layer_norm(x[0], [129], x[1], x[2], 1e-6)));
        cases.Add(new("layer_norm_many_rows", [new("x", [70, 9]), new("weight", [9]), new("bias", [9])],
            x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5f), x => nn.functional.layer_norm(x[0], [9], x[1], x[2], 1e-5)));
        cases.Add(new("layer_norm_weight_only", [new("x", [4, 16]), new("weight", [16])],
            x => Ops.LayerNorm(x[0], x[1], null, 1e-5f), x => nn.functional.layer_norm(x[0], [16], x[1], null, 1e-5)));
        cases.Add(new("layer_norm_no_affine", [new("x", [5, 20])],
            x => Ops.LayerNorm(x[0], null, null, 1e-5f), x => nn.functional.layer_norm(x[0], [20], null, null, 1e-5)));
        // With two channels xhat = +-|d| / sqrt(d^2 + eps) and dx is proportional to 1 - xhat^2 ~ eps / d^2:
        // pure cancellation noise in fp32 on both sides, so only the output and weight/bias gradients are compared.
        cases.Add(new("layer_norm_two_channels", [new("x", [9, 2], Differentiable: false), new("weight", [2]), new("bias", [2])],
            x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5f), x => nn.functional.layer_norm(x[0], [2], x[1], x[2], 1e-5)));
    }
}
