using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;

namespace MaMA.Model.Tests;

/// <summary>config.json: snake_case round trips, the paper's numbers, and clear errors.</summary>
[TestFixture]
public sealed class ModelConfigFileTests
{
    [Test]
    public void MaMAConfigRoundTripsThroughJson()
    {
        var file = ModelConfigFile.ForMaMA(MaMAConfig.Tiny with { ActivationCheckpointing = true, TextPooling = TextPooling.MaskedMean });
        string json = file.ToJson();
        Assert.That(json, Does.Contain("\"arch\": \"mama\"").And.Contain("\"late_loss_step\"").And.Contain("\"masked_mean\"").And.Contain("\"n_embd\": 32"));
        ModelConfigFile back = ModelConfigFile.Parse(json);
        Assert.That(back.Mama!.Vision, Is.EqualTo(VisionConfig.Tiny));
        Assert.That(back.Mama.Text with { Lora = null }, Is.EqualTo(Gpt2Config.Tiny with { Lora = null }));
        Assert.That(back.Mama.Text.Lora!.TargetModules, Is.EqualTo(new[] { "c_attn" }));
        Assert.That(back.Mama.ActivationCheckpointing, Is.True);
        Assert.That(back.Mama.TextPooling, Is.EqualTo(TextPooling.MaskedMean));
    }

    [Test]
    public void PaperNumbers()
    {
        VisionConfig v = VisionConfig.VitB14Reg4;
        Assert.That((v.Grid, v.NumPatches, v.NumTokens, v.HeadDim), Is.EqualTo((37, 1369, 1374, 64)));
        Gpt2Config t = Gpt2Config.BioMedLM;
        Assert.That((t.HeadDim, t.VocabSize, t.Lora!.Scaling), Is.EqualTo((128, 28902, 4f)));
        Assert.That(MaMAConfig.Paper.ScaleInit, Is.EqualTo(MathF.Log(1f / 0.07f)).Within(1e-6f));
        Assert.That(MaMAConfig.Paper.LateLossStep, Is.EqualTo(8000));
    }

    [Test]
    public void BadConfigsNameTheProblem()
    {
        Assert.That(() => ModelConfigFile.Parse("{\"arch\": \"gpt2\"}"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("needs a 'text' section"));
        Assert.That(() => ModelConfigFile.Parse("{\"arch\": \"dinov2\", \"vision\": {\"image_size\": 50}}"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("image_size (50)"));
        Assert.That(() => ModelConfigFile.Parse("{\"arch\": \"mama\", \"mama\": {}, \"colour\": 1}"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("colour"));
        Assert.That(() => ModelConfigFile.Parse("not json"), Throws.TypeOf<InvalidDataException>());
    }
}
