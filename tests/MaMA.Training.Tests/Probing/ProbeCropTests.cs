using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;
using MaMA.Training.Probing;

namespace MaMA.Training.Tests.Probing;

/// <summary>The probe's training crop: <c>--crop-scale-min 1</c> trains on exactly the evaluation view.</summary>
public class ProbeCropTests
{
    /// <summary>A 40x50 grey phantom: a gradient breast with a bright 3x3 "mass" near a corner.</summary>
    private static GreyImage Phantom()
    {
        var image = new GreyImage(40, 50);
        for (int y = 0; y < 50; y++)
            for (int x = 0; x < 30; x++)
                image[x, y] = (byte)(80 + x * 2 + y);
        for (int y = 6; y < 9; y++)
            for (int x = 3; x < 6; x++)
                image[x, y] = 250;
        return image;
    }

    [Test]
    public void ScaleOneGivesTheEvaluationViewForEverySeed()
    {
        var eval = new MammoTransformOptions { ImageSize = 28, CropSize = 28 };
        var train = new MammoTransform(ClassifierTrainer.TrainTransform(eval, 1.0));
        byte[] expected = new MammoTransform(eval).EvalImage(Phantom()).Pixels;
        for (int seed = 0; seed < 20; seed++)
            Assert.That(train.TrainImage(Phantom(), new Random(seed)).Pixels, Is.EqualTo(expected), $"seed {seed}");
    }

    [Test]
    public void SmallerScalesStillCropAtRandom()
    {
        var eval = new MammoTransformOptions { ImageSize = 28, CropSize = 28 };
        MammoTransformOptions options = ClassifierTrainer.TrainTransform(eval, 0.08);
        Assert.That((options.ScaleMin, options.RatioMin, options.RatioMax), Is.EqualTo((0.08, eval.RatioMin, eval.RatioMax)));
        var train = new MammoTransform(options);
        byte[] expected = new MammoTransform(eval).EvalImage(Phantom()).Pixels;
        int differing = Enumerable.Range(0, 20).Count(seed => !train.TrainImage(Phantom(), new Random(seed)).Pixels.SequenceEqual(expected));
        Assert.That(differing, Is.GreaterThanOrEqualTo(19));
    }

    [TestCase(0.0)]
    [TestCase(-0.5)]
    [TestCase(1.5)]
    [TestCase(double.NaN)]
    public void OutOfRangeScalesAreRejected(double scale)
    {
        var e = Assert.Throws<ArgumentException>(() => new ClassifierSettings { CropScaleMin = scale }.Validate())!;
        Assert.That(e.Message, Does.Contain("crop scale min"));
    }
}
