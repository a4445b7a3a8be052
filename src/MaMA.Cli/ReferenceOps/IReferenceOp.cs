using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// One op that <c>mama op NAME</c> can run on named tensors (for reference testing against other
/// implementations). Each op is one file in this folder; the command finds them by reflection.
/// Tensor names are contracts, documented in docs/ops.md.
/// </summary>
internal interface IReferenceOp
{
    /// <summary>The NAME of <c>mama op NAME</c>.</summary>
    string Name { get; }

    /// <summary>Inputs that receive a <c>grad_&lt;name&gt;</c> output under <c>--backward</c>.</summary>
    IReadOnlyList<string> DifferentiableInputs { get; }

    /// <summary>Runs the op; outputs by name. Inputs listed in <see cref="DifferentiableInputs"/> already require grad under --backward.</summary>
    IReadOnlyDictionary<string, Tensor> Run(OpArguments args);
}
