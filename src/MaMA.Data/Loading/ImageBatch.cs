using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Data.Loading;

/// <summary>A batch of <see cref="LabelledImageLoader"/>: B images [B, 3, S, S] and their classes.</summary>
public sealed class ImageBatch
{
    public ImageBatch(int count, int imageSize)
    {
        Count = count;
        ImageSize = imageSize;
        Pixels = new float[(long)count * 3 * imageSize * imageSize];
        Labels = new int[count];
        RecordIndices = new int[count];
    }

    public int Count { get; }

    /// <summary>Side S of the square crops.</summary>
    public int ImageSize { get; }

    /// <summary>Normalised pixels [B, 3, S, S], row-major (the grey channel repeated).</summary>
    public float[] Pixels { get; }

    /// <summary>The class of each image.</summary>
    public int[] Labels { get; }

    /// <summary>Each row's index in the loader's records.</summary>
    public int[] RecordIndices { get; }

    public Tensor PixelsTensor(Device? device = null) => Tensor.FromArray(Pixels, [Count, 3, ImageSize, ImageSize], device);
}
