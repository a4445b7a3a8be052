using MaMA.Engine;
using static TorchSharp.torch;

namespace MaMA.Interop.Torch.Parity;

/// <summary>Batch normalisation cases (training with batch statistics, evaluation with running statistics).</summary>
public static partial class OpCatalog
{
    static partial void AddNormalizationFamily(List<OpCase> cases)
    {
        // Running statistics are inputs too (not differentiable): in training they must not affect
        // the output (only get updated), in evaluation they are the statistics.
        static OpInput[] BatchNormInputs(int[] xShape, bool affine)
        {
            int c = xShape[1];
            var inputs = new List<OpInput> { new("x", xShape) };
            if (affine)
            {
                inputs.Add(new("weight", [c]));
                inputs.Add(new("bias", [c]));
            }
            inputs.Add(new("running_mean", [c], Differentiable: false));
            inputs.Add(new("running_var", [c], InputKind.Positive, Differentiable: false));
            return inputs.ToArray();
        }

        void Add(string name, int[] xShape, bool affine, bool training, float momentum = 0.1f, float eps = 1e-5f) =>
            cases.Add(new(name, BatchNormInputs(xShape, affine),
                x => affine
                    ? Ops.BatchNorm1d(x[0], x[1], x[2], x[3], x[4], training, momentum, eps)
                    : Ops.BatchNorm1d(x[0], null, null, x[1], x[2], training, momentum, eps),
                x => affine
                    ? nn.functional.batch_norm(x[0], x[3], x[4], x[1], x[2], training, momentum, eps)
                    : nn.functional.batch_norm(x[0], x[1], x[2], null, null, training, momentum, eps)));

        Add("batch_norm_train_2d", [9, 17], affine: true, training: true);
        Add("batch_norm_train_3d", [4, 5, 13], affine: true, training: true, momentum: 0.3f);
        Add("batch_norm_train_no_affine", [3, 6, 7], affine: false, training: true, eps: 1e-3f);
        Add("batch_norm_eval_2d", [7, 11], affine: true, training: false);
        Add("batch_norm_eval_3d_no_affine", [3, 4, 9], affine: false, training: false);
    }
}
