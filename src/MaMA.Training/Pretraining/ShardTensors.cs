using MaMA.Data.Loading;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Pretraining;

/// <summary>
/// One rank's rows of a global micro-batch as device tensors (views [n, 3, S, S], token ids int64
/// [n, T], attention mask fp32 [n, T]). The rank's loader decodes only rows [shard.Start,
/// shard.Start + n) of each global batch (LoaderOptions.RowStart / RowCount), so the
/// <see cref="MammoBatch"/> holds exactly the shard.
/// </summary>
internal sealed class ShardTensors : IDisposable
{
    public ShardTensors(MammoBatch batch, DataShard shard, Device device)
    {
        if (batch.Count != shard.Count)
            throw new InvalidOperationException($"the loader returned {batch.Count} pairs, expected this rank's {shard.Count} of the global micro-batch of {shard.GlobalBatch}.");
        int n = shard.Count, s = batch.ImageSize, t = batch.Tokens;
        View1 = Tensor.FromArray(batch.View1, [n, 3, s, s], device);
        View2 = Tensor.FromArray(batch.View2, [n, 3, s, s], device);
        Ids = Tensor.FromArray(Array.ConvertAll(batch.TokenIds, id => (long)id), [n, t], device);
        float[] mask = Array.ConvertAll(batch.AttentionMask, keep => (float)keep);
        Mask = Tensor.FromArray(mask, [n, t], device);
    }

    public Tensor View1 { get; }

    public Tensor View2 { get; }

    public Tensor Ids { get; }

    public Tensor Mask { get; }

    public MaMABatch ToBatch() => new(View1, Ids, Mask, View2);

    public void Dispose()
    {
        View1.Dispose();
        View2.Dispose();
        Ids.Dispose();
        Mask.Dispose();
    }
}
