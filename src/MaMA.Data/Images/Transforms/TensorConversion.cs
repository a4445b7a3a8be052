namespace MaMA.Data.Images.Transforms;

/// <summary>
/// torchvision's <c>ToTensor</c> then <c>Normalize(mean, std)</c> on a grey image replicated to three
/// channels (the reference converts to RGB): <c>(v / 255 - mean) / std</c> in float, CHW order.
/// </summary>
public static class TensorConversion
{
    /// <summary>A new float[3 * H * W] in CHW order.</summary>
    public static float[] ToChw3(GreyImage image, float mean = 0.5f, float std = 0.5f)
    {
        ArgumentNullException.ThrowIfNull(image);
        var result = new float[3 * image.Pixels.Length];
        ToChw3(image, result, mean, std);
        return result;
    }

    /// <summary>Writes 3 * H * W floats (CHW) into <paramref name="destination"/>, e.g. one slot of a batch buffer.</summary>
    public static void ToChw3(GreyImage image, Span<float> destination, float mean = 0.5f, float std = 0.5f)
    {
        ArgumentNullException.ThrowIfNull(image);
        int n = image.Pixels.Length;
        if (destination.Length < 3 * n) throw new ArgumentException($"destination holds {destination.Length} floats; {3 * n} are needed.");
        if (!(std > 0)) throw new ArgumentException($"std must be positive, got {std}.");
        Span<float> lut = stackalloc float[256];
        for (int v = 0; v < 256; v++) lut[v] = (v / 255f - mean) / std;
        Span<float> first = destination[..n];
        for (int i = 0; i < n; i++) first[i] = lut[image.Pixels[i]];
        first.CopyTo(destination.Slice(n, n));
        first.CopyTo(destination.Slice(2 * n, n));
    }
}
