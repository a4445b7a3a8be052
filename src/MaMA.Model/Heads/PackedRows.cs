using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Model.Heads;

/// <summary>
/// Row concatenation with autograd, built from public ops because the engine has no cat op:
/// out = sum_m P_m part_m with P_m [sum M, M_m] the 0/1 matrix that places part m's rows after those
/// of the parts before it. Products with exact 0/1 entries copy values bit for bit; backward
/// through MatMul hands each part its own rows (P_m^T dOut). Used to pack per-report head outputs
/// [S_m, E] into [sum S, E] (a few small GEMMs per micro-batch).
/// </summary>
public static class PackedRows
{
    /// <summary>parts [M_m, C] (same C, same device) -> [sum M_m, C].</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("PackedRows.Concat needs at least one part.", nameof(parts));
        if (parts.Count == 1) return parts[0];
        int c = parts[0].Shape[^1];
        foreach (Tensor p in parts)
            if (p.Rank != 2 || p.Shape[1] != c)
                throw new ArgumentException($"PackedRows.Concat: every part must be [M, {c}], got {Shape.Format(p.Shape)}.", nameof(parts));
        int total = parts.Sum(p => p.Shape[0]);
        Tensor? result = null;
        int start = 0;
        foreach (Tensor part in parts)
        {
            int rows = part.Shape[0];
            var place = new float[total * rows];
            for (int r = 0; r < rows; r++) place[(start + r) * rows + r] = 1f;
            Tensor placed = Ops.MatMul(Tensor.FromArray(place, [total, rows], part.Device), part);
            result = result is null ? placed : Ops.Add(result, placed);
            start += rows;
        }
        return result!;
    }
}
