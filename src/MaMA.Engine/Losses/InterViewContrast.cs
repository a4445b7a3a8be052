using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Losses;

public static partial class Losses
{
    /// <summary>
    /// MaMA's inter-view loss (NT-Xent, SimCLR): <paramref name="z0"/> and <paramref name="z1"/> [N, E]
    /// are the head outputs of the two views (z0 from view 2, z1 from view 1 in SPEC 6), not yet
    /// normalised: this op L2-normalises both (through <see cref="Ops.L2Normalize"/>, so the gradient
    /// flows through the normalisation). With A = z0 z0^T, X = z0 z1^T, Y = z1 z0^T, Z = z1 z1^T, all
    /// divided by <paramref name="temperature"/>, and A, Z without their diagonals, the rows [X | A] and
    /// [Y | Z] form a 2N x (2N - 1) logit matrix whose row i (and i + N) targets column i; the loss is
    /// the mean cross-entropy over the 2N rows. Returns a 0-d fp32 loss.
    /// <para>
    /// The concatenated matrix is never formed: three GEMMs give X, A and Z (Y = X^T is read as the
    /// columns of X), one fused pass gives the 2N log-sum-exps with each self-similarity skipped and
    /// the loss, and the backward writes the three gradient blocks once and takes
    /// dz0 = G_A z0 + G_X z1, dz1 = G_Z z1 + G_X^T z0 (see <see cref="ContrastiveFusion"/>).
    /// </para>
    /// </summary>
    public static Tensor InterViewContrast(Tensor z0, Tensor z1, float temperature = 0.5f)
    {
        const string op = "inter_view_contrast";
        Dispatch.SameDevice(op, z0, z1);
        Dispatch.RequireFloat(op, z0);
        Dispatch.RequireFloat(op, z1);
        if (z0.Rank != 2)
            throw new ArgumentException($"{op}: z0 must be [N, E], got {Shape.Format(z0.Shape)}.", nameof(z0));
        if (z1.Rank != 2)
            throw new ArgumentException($"{op}: z1 must be [N, E], got {Shape.Format(z1.Shape)}.", nameof(z1));
        if (!Shape.SameShape(z0.Shape, z1.Shape))
            throw new ArgumentException($"{op}: the two views' features z0 {Shape.Format(z0.Shape)} and z1 {Shape.Format(z1.Shape)} must have the same shape [N, E].", nameof(z1));
        if (z0.Size(0) == 0)
            throw new ArgumentException($"{op}: no samples (z0 {Shape.Format(z0.Shape)}).", nameof(z0));
        if (!(temperature > 0f) || float.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"{op}: the temperature must be positive and finite, got {temperature}.");
        // Normalised in fp32; under bf16 autocast the unit vectors, not the raw features, are what the
        // similarity GEMMs round to bf16 (the three blocks then run on the tensor cores).
        Tensor n0 = Autocast.Lower(Ops.L2Normalize(z0)), n1 = Autocast.Lower(Ops.L2Normalize(z1));
        return ContrastiveFusion.Loss(op, n0, n1, null, 1f / temperature, selfBlocks: true, inv: 1f / (2 * z0.Size(0)));
    }
}
