using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Nn;

/// <summary>
/// Activation recomputation (torch.utils.checkpoint): a block runs once without recording, so its
/// intermediate activations are freed at once; backward re-runs it with the tape on from the saved
/// input and back-propagates through that copy. Memory per block drops from all its activations
/// to its input, at the cost of one more forward. Parameter gradients accumulate into the
/// parameters as usual; the gradient to the block input is returned to the outer sweep.
///
/// Random streams inside the block (<see cref="IStochasticModule"/>, e.g. LoRA dropout) are rewound
/// for the recomputation so it draws the same masks. Modules with other side effects in training
/// (BatchNorm running statistics) must not be checkpointed: their update would happen twice.
/// </summary>
public static class ActivationCheckpoint
{
    /// <summary>
    /// y = <paramref name="block"/>(x), recorded as one node whose backward recomputes the block.
    /// <paramref name="scope"/> is the module that owns every parameter and random stream the block
    /// uses. Without grad recording this is a plain call.
    /// </summary>
    public static Tensor Run(Module scope, Func<Tensor, Tensor> block, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(x);
        if (!GradMode.IsEnabled) return block(x);
        bool anyTrainable = x.RequiresGrad || scope.AnyParameterRequiresGrad();
        if (!anyTrainable) return block(x);

        IStochasticModule[] streams = scope.NamedModules().Select(m => m.Module).OfType<IStochasticModule>().ToArray();
        ulong[] before = streams.Select(s => s.DropoutOffset).ToArray();
        Tensor y;
        using (GradMode.NoGrad()) y = block(x);
        var node = new RecomputeNode(block, x, streams, before);
        y.GradFn = node;
        y.RequiresGrad = true;
        return y;
    }

    /// <summary>Saves the block input x (its only activation) and the random positions.</summary>
    private sealed class RecomputeNode(Func<Tensor, Tensor> block, Tensor x, IStochasticModule[] streams, ulong[] before) : Node(x)
    {
        public override string Name => "activation_checkpoint";

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            // Replay the forward with the same random positions, then put the streams back where
            // the original forward left them (later forwards must not repeat masks).
            ulong[] after = streams.Select(s => s.DropoutOffset).ToArray();
            for (int i = 0; i < streams.Length; i++) streams[i].DropoutOffset = before[i];
            Tensor input = x.Detach();
            input.RequiresGrad = true;
            try
            {
                using (GradMode.EnableGrad())
                {
                    Tensor replay = block(input);
                    if (!replay.RequiresGrad) return [null];
                    replay.Backward(gradOutput);
                }
            }
            finally
            {
                for (int i = 0; i < streams.Length; i++) streams[i].DropoutOffset = after[i];
            }
            return [Edges[0].RequiresGrad ? input.Grad : null];
        }
    }
}
