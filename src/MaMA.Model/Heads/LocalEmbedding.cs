using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Heads;

/// <summary>
/// MaMA's local head (SPEC section 5; published <c>LocalEmbedding</c>): over the token axis,
/// 1x1 Conv1d in -> hidden, BatchNorm1d(hidden), ReLU, 1x1 Conv1d hidden -> E,
/// BatchNorm1d(E, affine = false). Keys <c>head.0.*</c>, <c>head.1.*</c>, <c>head.3.*</c>,
/// <c>head.4.*</c> (the ReLU is <c>head.2</c> and holds nothing). Outputs are not normalised; the
/// model L2-normalises them.
///
/// The published module permutes [N, L, C] to [N, C, L] for the convolutions; a 1x1 convolution is a
/// per-position linear map and BatchNorm over [N, C, L] pools N * L positions, so the engine works
/// on rows [N * L, C] with the same statistics.
/// </summary>
public sealed class LocalEmbedding : Module
{
    public LocalEmbedding(int inputDim, int hiddenDim, int outputDim, Random rng, Device? device = null)
    {
        InputDim = inputDim;
        OutputDim = outputDim;
        Conv1 = new Conv1x1(inputDim, hiddenDim, rng, device: device);
        Norm1 = new BatchNorm1d(hiddenDim, device: device);
        Conv2 = new Conv1x1(hiddenDim, outputDim, rng, device: device);
        Norm2 = new BatchNorm1d(outputDim, affine: false, device: device);
        RegisterModule("head", new SequentialLayers((0, Conv1), (1, Norm1), (3, Conv2), (4, Norm2)));
    }

    public int InputDim { get; }

    public int OutputDim { get; }

    public Conv1x1 Conv1 { get; }

    public BatchNorm1d Norm1 { get; }

    public Conv1x1 Conv2 { get; }

    public BatchNorm1d Norm2 { get; }

    /// <summary>x [N, L, C] -> [N, L, E]; one BatchNorm batch of N * L positions (the image head on patches).</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Shape[2] != InputDim)
            throw new ArgumentException($"LocalEmbedding: input must be [N, L, {InputDim}], got {Shape.Format(x.Shape)}.", nameof(x));
        int n = x.Shape[0], l = x.Shape[1];
        Tensor rows = x.IsContiguous ? x.Reshape(n * l, InputDim) : x.Contiguous().Reshape(n * l, InputDim);
        return ForwardRows(rows).Reshape(n, l, OutputDim);
    }

    /// <summary>rows [M, C] -> [M, E]; one BatchNorm batch of M positions.</summary>
    public Tensor ForwardRows(Tensor rows) => Tail(Conv1.ForwardRows(rows));

    /// <summary>
    /// Packed segments rows [sum S, C] with <paramref name="offsets"/> [K + 1] (segment k owns rows
    /// offsets[k] .. offsets[k+1]) -> [sum S, E], the head applied to each segment on its own, in
    /// order. This is the text head as published: <c>local_embed</c> is called once per report on
    /// [1, S_m, C], so each report is its own BatchNorm batch (and one running-statistics update).
    /// The first 1x1 convolution is per row and runs once over all rows.
    /// </summary>
    public Tensor ForwardSegments(Tensor rows, IReadOnlyList<long> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (rows.Rank != 2 || rows.Shape[1] != InputDim)
            throw new ArgumentException($"LocalEmbedding: packed rows must be [sum S, {InputDim}], got {Shape.Format(rows.Shape)}.", nameof(rows));
        if (offsets.Count < 2 || offsets[0] != 0 || offsets[^1] != rows.Shape[0])
            throw new ArgumentException($"LocalEmbedding: offsets must start at 0 and end at {rows.Shape[0]} (the number of rows).", nameof(offsets));
        Tensor hidden = Conv1.ForwardRows(rows);
        var parts = new List<Tensor>(offsets.Count - 1);
        for (int k = 0; k + 1 < offsets.Count; k++)
        {
            int start = checked((int)offsets[k]), length = checked((int)(offsets[k + 1] - offsets[k]));
            if (length <= 0) throw new ArgumentException($"LocalEmbedding: segment {k} is empty (offsets must increase strictly).", nameof(offsets));
            parts.Add(Tail(hidden.Narrow(0, start, length)));
        }
        return Ops.Concat(parts, axis: 0);   // [sum S, E]
    }

    // hidden [M, hidden] -> BN, ReLU, conv, BN -> [M, E].
    private Tensor Tail(Tensor hidden) => Norm2.Forward(Conv2.ForwardRows(Ops.Relu(Norm1.Forward(hidden))));
}
