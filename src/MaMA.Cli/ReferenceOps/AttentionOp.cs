using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>mama op attention</c>: q, k, v [B, H, T, D] (F32, BF16 or F16), optional
/// <c>key_padding_mask</c> [B, T] (1 keep, 0 pad; floating or I32/I64), 0-d scalars <c>causal</c>
/// (nonzero = causal; default 0), <c>scale</c> (the full multiplier on q . k; default 1/sqrt(D))
/// and <c>join_heads</c> (nonzero: the heads joined as the output projection reads them; default 0)
/// -> <c>out</c> [B, H, T, D] (F32), or with join_heads [B, T, H D] in q's dtype when q, k, v are
/// all 16-bit (else F32). Differentiable: q, k, v.
/// </summary>
internal sealed class AttentionOp : IReferenceOp
{
    public string Name => "attention";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["q", "k", "v"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor q = args.Tensor("q", rank: 4), k = args.Tensor("k", rank: 4), v = args.Tensor("v", rank: 4);
        for (int axis = 0; axis < 4; axis++)
        {
            args.SameSize("k", axis, "q", axis);
            args.SameSize("v", axis, "q", axis);
        }
        Tensor? mask = KeyPaddingMask(args);
        if (mask is not null)
        {
            args.SameSize("key_padding_mask", 0, "q", 0);
            args.SameSize("key_padding_mask", 1, "q", 2);
        }
        bool causal = args.Scalar("causal", 0f) != 0f;
        float scale = args.Scalar("scale", 1f / MathF.Sqrt(q.Size(3)));
        if (!float.IsFinite(scale)) throw new UsageException($"attention: scalar 'scale' must be finite, got {scale}.");
        bool joinHeads = args.Scalar("join_heads", 0f) != 0f;
        return new Dictionary<string, Tensor> { ["out"] = Ops.Attention(q, k, v, mask, causal, scale, joinHeads) };
    }

    /// <summary>The optional mask, floating or integer (an error names it when it is neither or has the wrong rank).</summary>
    private static Tensor? KeyPaddingMask(OpArguments args)
    {
        try
        {
            return args.Optional("key_padding_mask", rank: 2);
        }
        catch (UsageException)
        {
            // Not a floating [B, T] tensor: accept an integer one, else report it by name.
            return args.Integers("key_padding_mask", rank: 2);
        }
    }
}
