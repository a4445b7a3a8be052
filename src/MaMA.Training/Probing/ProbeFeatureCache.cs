using MaMA.Data.Loading;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Probing;

/// <summary>
/// The pooled ViT feature [C] of every training image, computed once. Linear probing trains only
/// the head, and with <c>crop_scale_min</c> 1 the training view is the whole image, so each image's
/// feature is the same at every step: computing it once per image instead of once per draw saves
/// the encoder's forward on every step (600 steps of 32 draws over about 2,400 images in the demo).
/// <para>
/// The features are bit for bit those of the per-step path: they come from a loader with the probe's
/// own options (the same transform code), and every encoder batch is a full one of the probe's batch
/// size (the last is topped up with the first images), so the encoder's GEMMs have the shapes of a
/// training step. A test checks the probe's losses and head against the per-step path.
/// </para>
/// </summary>
internal sealed class ProbeFeatureCache
{
    private readonly float[] _features;
    private readonly int[] _rowOf;

    private ProbeFeatureCache(float[] features, int[] rowOf, int channels, int images)
    {
        _features = features;
        _rowOf = rowOf;
        Channels = channels;
        Images = images;
    }

    /// <summary>Feature width C.</summary>
    public int Channels { get; }

    /// <summary>Distinct images encoded.</summary>
    public int Images { get; }

    /// <summary>
    /// Encodes the distinct images of <paramref name="records"/> (the probe's balanced epoch, which
    /// repeats images) with <paramref name="model"/>'s frozen ViT, in batches of <paramref name="options"/>.BatchSize.
    /// </summary>
    public static ProbeFeatureCache Build(MaMAModel model, IReadOnlyList<LabelledImage> records, LoaderOptions options, Device device)
    {
        // The balanced epoch repeats the same instances: distinct by reference, as two records with one path may still differ.
        var rowOfRecord = new Dictionary<LabelledImage, int>(ReferenceEqualityComparer.Instance);
        var distinct = new List<LabelledImage>();
        var rowOf = new int[records.Count];
        for (int i = 0; i < records.Count; i++)
        {
            if (!rowOfRecord.TryGetValue(records[i], out int row))
            {
                row = distinct.Count;
                rowOfRecord[records[i]] = row;
                distinct.Add(records[i]);
            }
            rowOf[i] = row;
        }
        int batch = options.BatchSize;
        var padded = new List<LabelledImage>(distinct);
        for (int i = 0; padded.Count % batch != 0; i++) padded.Add(distinct[i % distinct.Count]);
        var loader = new LabelledImageLoader(padded, options with { DropLast = false });

        int channels = model.ImageEncoder.Model.Config.EmbedDim;
        var features = new float[(long)distinct.Count * channels];
        using (GradMode.NoGrad())
            foreach (ImageBatch b in loader.Epoch(0))
            {
                using Tensor pixels = b.PixelsTensor(device);
                float[] pooled = model.ImageEncoder.Encode(pixels).Pooled.ToFloatArray();
                for (int i = 0; i < b.Count; i++)
                {
                    int record = b.RecordIndices[i];
                    if (record < distinct.Count) Array.Copy(pooled, (long)i * channels, features, (long)record * channels, channels);
                }
            }
        return new ProbeFeatureCache(features, rowOf, channels, distinct.Count);
    }

    /// <summary>The features [B, C] of records <paramref name="recordIndices"/> (indices into the records the cache was built from).</summary>
    public Tensor Gather(IReadOnlyList<int> recordIndices, Device device)
    {
        var batch = new float[(long)recordIndices.Count * Channels];
        for (int i = 0; i < recordIndices.Count; i++)
            Array.Copy(_features, (long)_rowOf[recordIndices[i]] * Channels, batch, (long)i * Channels, Channels);
        return Tensor.FromArray(batch, [recordIndices.Count, Channels], device);
    }
}
