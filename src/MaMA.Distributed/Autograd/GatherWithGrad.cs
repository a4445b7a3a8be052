using MaMA.Distributed.Communication;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.Autograd;

/// <summary>
/// The all-gather of a tensor along its first axis with a gradient back to the local rows: x
/// [n_r, ...] on rank r -> X [sum n_r, ...], rank 0's rows first. Row counts may differ per rank
/// (packed sentences). The backward is chosen by <see cref="GatherBackward"/>.
/// <para>
/// The transfer is staged through host memory in fp32 (x is widened first), which is what MPI
/// without CUDA awareness needs; on a GPU device this is a device-to-host copy, the collective and
/// a host-to-device copy.
/// </para>
/// </summary>
public static class GatherWithGrad
{
    /// <summary>
    /// X = concat over ranks of <paramref name="local"/> (fp32, on local's device). Returns the
    /// gathered tensor and the first row of each rank's block (length Size + 1, last = total rows).
    /// </summary>
    public static (Tensor All, int[] RowStarts) Gather(ICommunicator comm, Tensor local, GatherBackward backward = GatherBackward.SumOverRanks)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(local);
        if (local.Rank < 1) throw new ArgumentException($"gather: the tensor must have a row axis, got shape {Shape.Format(local.Shape)}.", nameof(local));
        int[] shape = local.ShapeArray;
        int rowSize = checked((int)(local.Numel / Math.Max(1, shape[0])));
        float[] mine = local.ToFloatArray();
        (float[] all, int[] counts) = comm.AllGatherVariable<float>(mine);
        var starts = new int[comm.Size + 1];
        for (int r = 0; r < comm.Size; r++)
        {
            if (rowSize > 0 && counts[r] % rowSize != 0)
                throw new InvalidOperationException($"gather: rank {r} sent {counts[r]} values, not whole rows of {rowSize} (shape {Shape.Format(shape)} on rank {comm.Rank}); every rank must gather the same row shape.");
            starts[r + 1] = starts[r] + (rowSize == 0 ? 0 : counts[r] / rowSize);
        }
        shape[0] = starts[comm.Size];
        Tensor gathered = Tensor.FromArray(all, shape, local.Device);
        GradMode.RecordIfNeeded(gathered, new GatherNode(comm, local, starts, backward));
        return (gathered, starts);
    }

    private sealed class GatherNode(ICommunicator comm, Tensor local, int[] starts, GatherBackward mode) : Node(local)
    {
        public override string Name => "all_gather";

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            int rank = comm.Rank;
            int rows = starts[rank + 1] - starts[rank];
            Tensor mine;
            switch (mode)
            {
                case GatherBackward.SumOverRanks:
                    float[] g = gradOutput.ToFloatArray();
                    comm.AllReduceSum<float>(g);
                    mine = Ops.Narrow(Tensor.FromArray(g, gradOutput.Shape, gradOutput.Device), 0, starts[rank], rows).Contiguous();
                    break;
                case GatherBackward.Replicated:
                    mine = Ops.Scale(Ops.Narrow(gradOutput, 0, starts[rank], rows), comm.Size);
                    break;
                default:
                    mine = Ops.Narrow(gradOutput, 0, starts[rank], rows).Contiguous();
                    break;
            }
            if (mine.DType != Edges[0].DType) mine = mine.To(Edges[0].DType);
            return [mine];
        }
    }
}
