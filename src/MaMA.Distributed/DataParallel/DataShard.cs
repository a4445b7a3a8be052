namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Rank r's rows of a global micro-batch of <see cref="GlobalBatch"/> pairs: the contiguous block
/// [Start, Start + Count). Contiguous blocks in rank order make the gathered embeddings the
/// single-process batch row for row. The global micro-batch (not the per-rank one) is what a run
/// fixes, so the data order and a checkpoint's data position do not depend on the number of ranks
/// and a run can resume on a different number of them.
/// </summary>
public readonly record struct DataShard(int Rank, int Size, int GlobalBatch)
{
    /// <summary>Rows per rank; the global micro-batch must divide evenly (the contrastive targets assume one pair per row on every rank).</summary>
    public int Count => GlobalBatch % Size == 0
        ? GlobalBatch / Size
        : throw new InvalidOperationException($"the global micro-batch of {GlobalBatch} pairs does not split evenly over {Size} ranks; use a multiple of {Size}.");

    public int Start => Rank * Count;
}
