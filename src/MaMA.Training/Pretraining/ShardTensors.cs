using MaMA.Data.Loading;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Pretraining;

/// <summary>
/// One rank's rows of a global micro-batch as device tensors: rows [shard.Start, shard.Start + n)
/// of the loader's <see cref="MammoBatch"/> (views [n, 3, S, S], token ids int64 [n, T], attention
/// mask fp32 [n, T]). The loader still decodes the whole global batch on every rank (simple and
/// the same order everywhere); decoding only the rank's rows would save CPU on large runs.
/// </summary>
internal sealed class ShardTensors : IDisposable
{
    public ShardTensors(MammoBatch batch, DataShard shard, Device device)
    {
        if (batch.Count != shard.GlobalBatch)
            throw new InvalidOperationException($"the loader returned {batch.Count} pairs, expected the global micro-batch of {shard.GlobalBatch}.");
        int n = shard.Count, start = shard.Start, s = batch.ImageSize, t = batch.Tokens;
        int image = 3 * s * s;
        View1 = Tensor.FromArray(batch.View1.AsSpan(start * image, n * image).ToArray(), [n, 3, s, s], device);
        View2 = Tensor.FromArray(batch.View2.AsSpan(start * image, n * image).ToArray(), [n, 3, s, s], device);
        long[] ids = new long[n * t];
        float[] mask = new float[n * t];
        for (int i = 0; i < n * t; i++)
        {
            ids[i] = batch.TokenIds[start * t + i];
            mask[i] = batch.AttentionMask[start * t + i];
        }
        Ids = Tensor.FromArray(ids, [n, t], device);
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
