using MaMA.Model.Vision;

namespace MaMA.Model.Tests.Vision;

/// <summary>DINOv2 state-dict keys, order, shapes and sizes (SPEC section 3), without running the model.</summary>
[TestFixture]
public sealed class DinoVisionTransformerStateDictTests
{
    /// <summary>A DINOv2 plain state dict's keys for <paramref name="depth"/> blocks, in PyTorch order.</summary>
    private static List<string> DinoKeys(int depth, bool registers = true)
    {
        var keys = new List<string> { "cls_token", "pos_embed" };
        if (registers) keys.Add("register_tokens");
        keys.AddRange(["mask_token", "patch_embed.proj.weight", "patch_embed.proj.bias"]);
        for (int n = 0; n < depth; n++)
            foreach (string k in new[]
            {
                "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias", "ls1.gamma",
                "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias", "ls2.gamma",
            })
                keys.Add($"blocks.{n}.{k}");
        keys.AddRange(["norm.weight", "norm.bias"]);
        return keys;
    }

    [Test]
    public void VitB14Reg4HasDinoV2KeysShapesAndSize()
    {
        var model = new DinoVisionTransformer(VisionConfig.VitB14Reg4, new Random(0));
        var state = model.StateDict();
        Assert.That(state.Keys, Is.EqualTo(DinoKeys(12)));
        var expected = new Dictionary<string, int[]>
        {
            ["cls_token"] = [1, 1, 768],
            ["pos_embed"] = [1, 1370, 768],
            ["register_tokens"] = [1, 4, 768],
            ["mask_token"] = [1, 768],
            ["patch_embed.proj.weight"] = [768, 3, 14, 14],
            ["patch_embed.proj.bias"] = [768],
            ["norm.weight"] = [768],
            ["norm.bias"] = [768],
        };
        for (int n = 0; n < 12; n++)
        {
            expected[$"blocks.{n}.norm1.weight"] = [768];
            expected[$"blocks.{n}.attn.qkv.weight"] = [2304, 768];
            expected[$"blocks.{n}.attn.qkv.bias"] = [2304];
            expected[$"blocks.{n}.attn.proj.weight"] = [768, 768];
            expected[$"blocks.{n}.ls1.gamma"] = [768];
            expected[$"blocks.{n}.mlp.fc1.weight"] = [3072, 768];
            expected[$"blocks.{n}.mlp.fc1.bias"] = [3072];
            expected[$"blocks.{n}.mlp.fc2.weight"] = [768, 3072];
            expected[$"blocks.{n}.ls2.gamma"] = [768];
        }
        foreach ((string key, int[] shape) in expected)
            Assert.That(state[key].ShapeArray, Is.EqualTo(shape), key);
        // 86,583,552 = patch conv 452,352 + tokens and positions 1,056,768 + 12 blocks x 7,089,408 + norm 1,536.
        Assert.That(model.ParameterCount, Is.EqualTo(86_583_552L));
        Assert.That(model.Parameters().Where(p => !p.IsFrozen).Sum(p => p.Numel), Is.EqualTo(86_583_552L - 768), "only mask_token is frozen");
    }

    [Test]
    public void TinyHasTheSameLayoutAndMatchesTheTorchTwinsKeysInOrder()
    {
        var model = new DinoVisionTransformer(VisionConfig.Tiny, new Random(1));
        var state = model.StateDict();
        Assert.That(state.Keys, Is.EqualTo(DinoKeys(2)));
        Assert.That(state["pos_embed"].ShapeArray, Is.EqualTo(new[] { 1, 10, 32 }));
        Assert.That(state["blocks.1.attn.qkv.weight"].ShapeArray, Is.EqualTo(new[] { 96, 32 }));
        Assert.That(state["blocks.1.mlp.fc1.weight"].ShapeArray, Is.EqualTo(new[] { 64, 32 }));

        using var twin = VisionTestKit.TorchTwin(model);
        var torchState = twin.state_dict();
        Assert.That(torchState.Keys, Is.EqualTo(DinoKeys(2)));
        foreach ((string key, var t) in torchState)
            Assert.That(t.shape.Select(d => (int)d), Is.EqualTo(state[key].ShapeArray), key);
    }

    [Test]
    public void NoRegistersMeansNoRegisterKey()
    {
        var model = new DinoVisionTransformer(VisionConfig.Tiny with { NumRegisters = 0 }, new Random(1));
        Assert.That(model.StateDict().Keys, Is.EqualTo(DinoKeys(2, registers: false)));
        Assert.That(model.RegisterTokens, Is.Null);
    }

    [Test]
    public void InitialisationFollowsDinoV2()
    {
        var model = new DinoVisionTransformer(VisionConfig.Tiny, new Random(2));
        float[] qkv = model.Blocks[0].Attn.Qkv.Weight.ToFloatArray();
        double std = Math.Sqrt(qkv.Select(v => (double)v * v).Average());
        Assert.That(std, Is.EqualTo(0.02).Within(0.003), "linear weights: trunc normal std 0.02");
        Assert.That(model.Blocks[0].Mlp.Fc1.Bias!.ToFloatArray(), Is.All.EqualTo(0f), "linear biases: zero");
        Assert.That(model.ClsToken.ToFloatArray().Max(Math.Abs), Is.LessThan(1e-5f).And.GreaterThan(0f), "cls: normal std 1e-6");
        Assert.That(model.RegisterTokens!.ToFloatArray().Max(Math.Abs), Is.LessThan(1e-5f).And.GreaterThan(0f), "registers: normal std 1e-6");
        Assert.That(model.Blocks[1].Ls2.Gamma.ToFloatArray(), Is.All.EqualTo(VisionConfig.Tiny.LayerScaleInit));
        Assert.That(model.Norm.Weight.ToFloatArray(), Is.All.EqualTo(1f));
        Assert.That(model.MaskToken.ToFloatArray(), Is.All.EqualTo(0f));
        Assert.That(model.MaskToken.IsFrozen, Is.True);
        double bound = 1.0 / Math.Sqrt(3 * 14 * 14);
        Assert.That(model.PatchEmbed.Proj.Weight.ToFloatArray().Max(Math.Abs), Is.LessThanOrEqualTo(bound), "patch conv: PyTorch's Conv2d default");
        Assert.That(model.PosEmbed.NoWeightDecay && model.ClsToken.NoWeightDecay && model.Norm.Bias.NoWeightDecay, Is.True);
        Assert.That(model.Blocks[0].Attn.Qkv.Weight.NoWeightDecay, Is.False);

        // Same seed, same model.
        var again = new DinoVisionTransformer(VisionConfig.Tiny, new Random(2));
        Assert.That(again.PosEmbed.ToFloatArray(), Is.EqualTo(model.PosEmbed.ToFloatArray()));
    }

    [Test]
    public void BadInputsNameTheProblem()
    {
        var model = new DinoVisionTransformer(VisionConfig.Tiny, new Random(3));
        var e = Assert.Throws<ArgumentException>(() => model.Forward(Engine.Tensors.Tensor.Zeros([1, 3, 43, 42])));
        Assert.That(e!.Message, Does.Contain("43x42").And.Contain("multiple of the patch size 14"));
        e = Assert.Throws<ArgumentException>(() => model.Forward(Engine.Tensors.Tensor.Zeros([1, 1, 42, 42])));
        Assert.That(e!.Message, Does.Contain("[B, 3, H, W]"));
    }
}
