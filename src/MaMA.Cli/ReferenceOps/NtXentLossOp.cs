using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>mama op ntxent_loss</c>: z0 [N, E] and z1 [N, E] (F32, BF16 or F16; not normalised, the op
/// normalises), 0-d <c>temperature</c> -> <c>loss</c> (0-d F32), the NT-Xent inter-view loss over
/// the 2N x (2N - 1) logits of SPEC 6. Differentiable: z0, z1.
/// </summary>
internal sealed class NtXentLossOp : IReferenceOp
{
    public string Name => "ntxent_loss";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["z0", "z1"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor z0 = args.Tensor("z0", rank: 2), z1 = args.Tensor("z1", rank: 2);
        args.SameSize("z0", 0, "z1", 0);
        args.SameSize("z0", 1, "z1", 1);
        if (z0.Size(0) == 0) throw new UsageException("ntxent_loss: 'z0' and 'z1' hold no samples (N = 0).");
        float temperature = args.Scalar("temperature");
        if (!(temperature > 0f) || !float.IsFinite(temperature))
            throw new UsageException($"ntxent_loss: scalar 'temperature' must be positive and finite, got {temperature}.");
        return new Dictionary<string, Tensor> { ["loss"] = Losses.InterViewContrast(z0, z1, temperature) };
    }
}
