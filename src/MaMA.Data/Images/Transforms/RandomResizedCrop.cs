namespace MaMA.Data.Images.Transforms;

/// <summary>A crop rectangle: top row, left column, height, width (torchvision's order i, j, h, w).</summary>
public readonly record struct CropBox(int Top, int Left, int Height, int Width);

/// <summary>
/// torchvision's <c>RandomResizedCrop(size, scale, ratio)</c>: up to 10 tries of an area fraction
/// uniform in <see cref="ScaleMin"/>..<see cref="ScaleMax"/> and an aspect ratio log-uniform in
/// <see cref="RatioMin"/>..<see cref="RatioMax"/>, <c>w = round(sqrt(area * ratio))</c>,
/// <c>h = round(sqrt(area / ratio))</c> (half to even, as Python's round); the first that fits gives a
/// uniformly placed crop; otherwise the centre crop of the whole image clamped to the ratio range.
/// The crop is then resized to <see cref="Size"/> x <see cref="Size"/> with <see cref="BilinearResize"/>.
/// All randomness comes from the <see cref="Random"/> passed in, so a seeded one makes it repeatable
/// (the draws are not torch's: same distribution, different stream).
/// </summary>
public sealed class RandomResizedCrop(int size = 518, double scaleMin = 0.08, double scaleMax = 1.0, double ratioMin = 3.0 / 4.0, double ratioMax = 4.0 / 3.0)
{
    public int Size { get; } = size > 0 ? size : throw new ArgumentException($"size must be positive, got {size}.");
    public double ScaleMin { get; } = scaleMin;
    public double ScaleMax { get; } = scaleMax >= scaleMin ? scaleMax : throw new ArgumentException("scale range is reversed.");
    public double RatioMin { get; } = ratioMin;
    public double RatioMax { get; } = ratioMax >= ratioMin && ratioMin > 0 ? ratioMax : throw new ArgumentException("ratio range must be positive and ordered.");

    /// <summary>torchvision's <c>get_params</c> for an image of the given size.</summary>
    public CropBox GetParams(int width, int height, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        double area = (double)width * height;
        double logMin = Math.Log(RatioMin), logMax = Math.Log(RatioMax);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = area * (ScaleMin + rng.NextDouble() * (ScaleMax - ScaleMin));
            double aspect = Math.Exp(logMin + rng.NextDouble() * (logMax - logMin));
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = rng.Next(0, height - h + 1);
                int left = rng.Next(0, width - w + 1);
                return new CropBox(top, left, h, w);
            }
        }
        // Fallback: central crop.
        double inRatio = (double)width / height;
        int cw, ch;
        if (inRatio < RatioMin)
        {
            cw = width;
            ch = (int)Math.Round(cw / RatioMin, MidpointRounding.ToEven);
        }
        else if (inRatio > RatioMax)
        {
            ch = height;
            cw = (int)Math.Round(ch * RatioMax, MidpointRounding.ToEven);
        }
        else
        {
            cw = width;
            ch = height;
        }
        return new CropBox((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    /// <summary>Crops at random and resizes to <see cref="Size"/> x <see cref="Size"/>.</summary>
    public GreyImage Apply(GreyImage image, Random rng, bool antialias = true)
    {
        ArgumentNullException.ThrowIfNull(image);
        CropBox box = GetParams(image.Width, image.Height, rng);
        GreyImage crop = box.Width == image.Width && box.Height == image.Height ? image : image.Crop(box.Left, box.Top, box.Width, box.Height);
        return BilinearResize.Resize(crop, Size, Size, antialias);
    }
}

/// <summary>torchvision's <c>CenterCrop</c>: offsets <c>round((size - crop) / 2)</c> half to even; zero padding first when the image is smaller.</summary>
public static class CenterCrop
{
    public static GreyImage Apply(GreyImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width < 1 || height < 1) throw new ArgumentException($"crop size must be positive, got {width}x{height}.");
        if (width > image.Width || height > image.Height)
        {
            int pw = Math.Max(0, width - image.Width), ph = Math.Max(0, height - image.Height);
            var padded = new GreyImage(image.Width + pw, image.Height + ph);
            int left = pw / 2, top = ph / 2;
            for (int y = 0; y < image.Height; y++) image.Row(y).CopyTo(padded.Row(top + y)[left..]);
            image = padded;
        }
        if (width == image.Width && height == image.Height) return image;
        int cropTop = (int)Math.Round((image.Height - height) / 2.0, MidpointRounding.ToEven);
        int cropLeft = (int)Math.Round((image.Width - width) / 2.0, MidpointRounding.ToEven);
        return image.Crop(cropLeft, cropTop, width, height);
    }
}
