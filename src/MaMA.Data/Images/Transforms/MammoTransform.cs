namespace MaMA.Data.Images.Transforms;

/// <summary>Settings of <see cref="MammoTransform"/>; the defaults are the reference's pre-training settings.</summary>
public sealed record MammoTransformOptions
{
    /// <summary>The square the image is resized to (the reference's <c>img_size</c>, 518).</summary>
    public int ImageSize { get; init; } = 518;

    /// <summary>The output side (the reference's <c>crop_size</c>, 518).</summary>
    public int CropSize { get; init; } = 518;

    /// <summary>
    /// The reference's loader calls <c>resize_img(x, img_size)</c> (INTER_AREA, long side to 518,
    /// centred zero padding) on the loaded image before the transforms run; true (default) does the
    /// same with <see cref="Preprocessing.ResizeToSquare"/>. false starts from the image as given.
    /// </summary>
    public bool LoaderResize { get; init; } = true;

    /// <summary>Antialiased (Pillow/torchvision default) or plain bilinear for the 518 resize and the crop resize.</summary>
    public bool Antialias { get; init; } = true;

    public double ScaleMin { get; init; } = 0.08;
    public double ScaleMax { get; init; } = 1.0;
    public double RatioMin { get; init; } = 3.0 / 4.0;
    public double RatioMax { get; init; } = 4.0 / 3.0;
    public float Mean { get; init; } = 0.5f;
    public float Std { get; init; } = 0.5f;
}

/// <summary>
/// The reference's image transforms for one 8-bit grey image (as <c>mama prepare</c> writes them) to a
/// float[3 * CropSize * CropSize] CHW tensor:
/// <list type="bullet">
/// <item>train: [loader resize to ImageSize with padding] -&gt; Otsu crop -&gt; resize to ImageSize x ImageSize
/// (bilinear, antialiased) -&gt; RandomResizedCrop(CropSize, scale 0.08-1, ratio 3/4-4/3) -&gt; /255 -&gt;
/// normalise (0.5, 0.5) -&gt; three channels;</item>
/// <item>eval: the same with CenterCrop(CropSize) instead of the random crop.</item>
/// </list>
/// Thread-safe; the random source is the caller's.
/// </summary>
public sealed class MammoTransform
{
    private readonly RandomResizedCrop _crop;

    public MammoTransform(MammoTransformOptions? options = null)
    {
        Options = options ?? new MammoTransformOptions();
        if (Options.ImageSize < 1 || Options.CropSize < 1) throw new ArgumentException("ImageSize and CropSize must be positive.");
        _crop = new RandomResizedCrop(Options.CropSize, Options.ScaleMin, Options.ScaleMax, Options.RatioMin, Options.RatioMax);
    }

    public MammoTransformOptions Options { get; }

    /// <summary>Floats per output image: 3 * CropSize * CropSize.</summary>
    public int OutputLength => 3 * Options.CropSize * Options.CropSize;

    /// <summary>The common start: loader resize, Otsu crop, resize to ImageSize x ImageSize.</summary>
    public GreyImage Base(GreyImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (Options.LoaderResize) image = Preprocessing.ResizeToSquare(image, Options.ImageSize, pad: true);
        image = Otsu.Crop(image);
        return BilinearResize.Resize(image, Options.ImageSize, Options.ImageSize, Options.Antialias);
    }

    /// <summary>The training augmentation up to the 8-bit crop.</summary>
    public GreyImage TrainImage(GreyImage image, Random rng) => _crop.Apply(Base(image), rng, Options.Antialias);

    /// <summary>The evaluation transform up to the 8-bit crop.</summary>
    public GreyImage EvalImage(GreyImage image) => CenterCrop.Apply(Base(image), Options.CropSize, Options.CropSize);

    public float[] Train(GreyImage image, Random rng) => TensorConversion.ToChw3(TrainImage(image, rng), Options.Mean, Options.Std);

    public float[] Eval(GreyImage image) => TensorConversion.ToChw3(EvalImage(image), Options.Mean, Options.Std);

    /// <summary>Training transform written into <paramref name="destination"/> (<see cref="OutputLength"/> floats).</summary>
    public void Train(GreyImage image, Random rng, Span<float> destination) =>
        TensorConversion.ToChw3(TrainImage(image, rng), destination, Options.Mean, Options.Std);

    /// <summary>Evaluation transform written into <paramref name="destination"/> (<see cref="OutputLength"/> floats).</summary>
    public void Eval(GreyImage image, Span<float> destination) =>
        TensorConversion.ToChw3(EvalImage(image), destination, Options.Mean, Options.Std);
}
