using MaMA.Engine.Nn;
using MaMA.Model.MaMA;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.MaMA;

/// <summary>Late-loss switch, freezing, state-dict naming and retrieval accuracy of <see cref="MaMAModel"/>.</summary>
[TestFixture]
public sealed class MaMAModelTests
{
    [Test]
    public void LateLossSwitchAddsTheTermsAndUnfreezesTheLocalHeads()
    {
        MaMAConfig config = MaMATestData.Config(lateLossStep: 3);
        MaMAModel model = MaMATestData.Model(config);
        MaMABatch batch = MaMATestData.Batch(config);
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        bool IsLocal(string name) => name == "local_scale" || name.Contains(".local_embed.", StringComparison.Ordinal);

        // Before: only CLIP(v1, t); the local heads and local_scale are frozen and get nothing;
        // the second view is not needed.
        MaMAOutput early = model.Forward(batch with { PixelValues2 = null }, step: 2);
        Assert.That(early.Late, Is.False);
        Assert.That((early.LossClipV2, early.LossNtXent, early.LossSlaT2I, early.LossSlaI2T, early.Image2, early.PatchEmbedding), Is.EqualTo((null as EngineTensor, null as EngineTensor, null as EngineTensor, null as EngineTensor, null as ImageEncoding, null as EngineTensor)));
        Assert.That(early.Loss.Item(), Is.EqualTo(early.LossClipV1.Item()));
        early.Loss.Backward();
        foreach ((string name, Parameter p) in parameters.Where(kv => IsLocal(kv.Key)))
        {
            Assert.That(p.IsFrozen, Is.True, name);
            Assert.That(p.Grad, Is.Null, name);
        }
        Assert.That(parameters["simclr_proj.layers.0.weight"].Grad, Is.Null, "the SimCLR head is unused before the late step");
        Assert.That(parameters["img_encoder_q.global_embed.weight"].Grad, Is.Not.Null);
        Assert.That(parameters["logit_scale"].Grad, Is.Not.Null);
        Assert.That(model.ImageEncoder.LocalEmbed.Norm1.NumBatchesTracked, Is.EqualTo(0), "local heads not run before the late step");
        model.ZeroGrad();

        // From the late step: every term, and every trainable parameter gets a gradient.
        MaMAOutput late = model.Forward(batch, step: 3);
        Assert.That(late.Late, Is.True);
        float sum = late.LossClipV1.Item() + late.LossNtXent!.Item() + late.LossClipV2!.Item() + late.LossSlaT2I!.Item() + late.LossSlaI2T!.Item();
        Assert.That(late.Loss.Item(), Is.EqualTo(sum).Within(1e-5f * Math.Abs(sum)));
        late.Loss.Backward();
        foreach ((string name, Parameter p) in parameters)
        {
            if (p.IsFrozen) continue;
            Assert.That(p.Grad, Is.Not.Null, $"{name} trains from the late step but got no gradient");
        }
        foreach ((string name, Parameter p) in parameters.Where(kv => IsLocal(kv.Key))) Assert.That(p.IsFrozen, Is.False, name);
        Assert.That(model.TextEncoder.LocalEmbed.Norm1.NumBatchesTracked, Is.EqualTo(batch.InputIds.Shape[0]), "text local head: one BatchNorm batch per report");
        Assert.That(model.SimClrProj.Norm1.NumBatchesTracked, Is.EqualTo(2), "SimCLR head: view 2, then view 1");

        Assert.Throws<ArgumentException>(() => model.Forward(batch with { PixelValues2 = null }, step: 3), "late step without the second view");
    }

    [Test]
    public void LambdaWeightsTheInterViewTerm()
    {
        MaMAConfig config = MaMATestData.Config() with { InterViewWeight = 0.25f };
        MaMAModel model = MaMATestData.Model(config);
        MaMAOutput o = model.Forward(MaMATestData.Batch(config), step: 0);
        float expected = o.LossClipV1.Item() + 0.25f * o.LossNtXent!.Item() + o.LossClipV2!.Item() + o.LossSlaT2I!.Item() + o.LossSlaI2T!.Item();
        Assert.That(o.Loss.Item(), Is.EqualTo(expected).Within(1e-5f * Math.Abs(expected)));
    }

    [Test]
    public void StateDictKeysAreThePublishedOnes()
    {
        var model = new MaMAModel(MaMAConfig.Tiny, new Random(0));
        List<string> keys = model.StateDict().Keys.ToList();
        Assert.That(keys.Take(2), Is.EqualTo(new[] { "logit_scale", "local_scale" }), "the module's own parameters come first, as PyTorch");
        string[] expected =
        [
            "img_encoder_q.model.cls_token", "img_encoder_q.model.pos_embed", "img_encoder_q.model.register_tokens", "img_encoder_q.model.mask_token",
            "img_encoder_q.model.patch_embed.proj.weight", "img_encoder_q.model.blocks.0.attn.qkv.weight", "img_encoder_q.model.blocks.1.ls2.gamma",
            "img_encoder_q.model.norm.weight", "img_encoder_q.global_embed.weight", "img_encoder_q.global_embed.bias",
            "img_encoder_q.local_embed.head.0.weight", "img_encoder_q.local_embed.head.0.bias", "img_encoder_q.local_embed.head.1.running_mean",
            "img_encoder_q.local_embed.head.1.num_batches_tracked", "img_encoder_q.local_embed.head.3.weight", "img_encoder_q.local_embed.head.4.running_var",
            "text_encoder_q.model.base_model.model.transformer.wte.weight", "text_encoder_q.model.base_model.model.transformer.wpe.weight",
            "text_encoder_q.model.base_model.model.transformer.h.0.attn.c_attn.weight",
            "text_encoder_q.model.base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight",
            "text_encoder_q.model.base_model.model.transformer.h.1.attn.c_attn.lora_B.default.weight",
            "text_encoder_q.model.base_model.model.transformer.ln_f.bias", "text_encoder_q.global_embed.weight",
            "text_encoder_q.local_embed.head.1.weight", "text_encoder_q.local_embed.head.4.num_batches_tracked",
            "simclr_proj.layers.0.weight", "simclr_proj.layers.1.running_var", "simclr_proj.layers.3.weight", "simclr_proj.layers.4.weight", "simclr_proj.layers.4.bias",
        ];
        Assert.That(keys, Is.SupersetOf(expected));
        Assert.That(keys.Where(k => k.Contains("lm_head", StringComparison.Ordinal) || k.Contains("local_embed.head.2", StringComparison.Ordinal)
                                    || k.Contains("local_embed.head.4.weight", StringComparison.Ordinal) || k.Contains("simclr_proj.layers.0.bias", StringComparison.Ordinal)), Is.Empty);
        Assert.That(keys.Count(k => k.StartsWith("img_encoder_q.", StringComparison.Ordinal)), Is.GreaterThan(0));
        Assert.That(keys.All(k => k is "logit_scale" or "local_scale" || k.StartsWith("img_encoder_q.", StringComparison.Ordinal)
                                  || k.StartsWith("text_encoder_q.", StringComparison.Ordinal) || k.StartsWith("simclr_proj.", StringComparison.Ordinal)), Is.True);

        var plain = new MaMAModel(MaMAConfig.Tiny with { Text = MaMAConfig.Tiny.Text with { Lora = null } }, new Random(0));
        Assert.That(plain.StateDict().Keys, Does.Contain("text_encoder_q.model.transformer.h.0.attn.c_attn.weight"), "without LoRA the text model has HF's keys");
    }

    [Test]
    public void ScalesStartAtLnOneOverPointZeroSeven()
    {
        var model = new MaMAModel(MaMAConfig.Tiny, new Random(0));
        Assert.That(model.LogitScale.Item(), Is.EqualTo(MathF.Log(1f / 0.07f)).Within(1e-6f));
        Assert.That(model.LocalScale.Item(), Is.EqualTo(MathF.Log(1f / 0.07f)).Within(1e-6f));
        Assert.That(model.LogitScale.Rank, Is.EqualTo(0));
    }

    [Test]
    public void ActivationCheckpointingSwitchesBothEncoders()
    {
        var on = new MaMAModel(MaMAConfig.Tiny with { ActivationCheckpointing = true }, new Random(0));
        Assert.That((on.ImageEncoder.Model.UseActivationCheckpointing, on.TextEncoder.Model.UseActivationCheckpointing), Is.EqualTo((true, true)));
        var off = new MaMAModel(MaMAConfig.Tiny, new Random(0));
        Assert.That((off.ImageEncoder.Model.UseActivationCheckpointing, off.TextEncoder.Model.UseActivationCheckpointing), Is.EqualTo((false, false)));
    }

    [Test]
    public void ActivationCheckpointingGivesTheSameGradients()
    {
        MaMAConfig config = MaMATestData.Config();
        MaMAModel plain = MaMATestData.Model(config), ckpt = MaMATestData.Model(config with { ActivationCheckpointing = true });
        MaMABatch batch = MaMATestData.Batch(config);
        plain.Forward(batch, 0).Loss.Backward();
        ckpt.Forward(batch, 0).Loss.Backward();
        var a = plain.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach ((string name, Parameter p) in ckpt.NamedParameters())
            if (p.Grad is not null)
                Assert.That(Heads.Compare.RelErr(p.Grad.ToFloatArray(), a[name].Grad!.ToFloatArray()), Is.LessThan(1e-5), name);
    }

    [Test]
    public void RetrievalAccuracyOnAConstructedBatch()
    {
        // image i = e_i; text j = e_perm(j) with reports 2 and 3 swapped and report 5 pointing at
        // image 0 (so image 5 matches no report and image 0 matches two).
        int n = 6;
        int[] perm = [0, 1, 3, 2, 4, 0];
        var image = new float[n * n];
        var text = new float[n * n];
        for (int i = 0; i < n; i++) image[i * n + i] = 1f;
        for (int j = 0; j < n; j++) text[j * n + perm[j]] = 1f;
        RetrievalAccuracy acc = RetrievalAccuracy.FromEmbeddings(EngineTensor.FromArray(image, [n, n]), EngineTensor.FromArray(text, [n, n]));
        // I2T (rows images): right for images 0, 1, 4 (own report scores 1, ties broken by lower index
        // first, so image 0's row [1,0,0,0,0,1] ranks report 0 first). Images 2, 3 see 1 at the
        // other report; image 5 sees all zeros and ranks report 5 last (five lower-index ties).
        Assert.That(acc.I2TTop1, Is.EqualTo(100f * 3 / 6).Within(1e-4f));
        // Top-5: images 2 and 3 rank their own report 3rd (1 higher score + 2 lower-index ties);
        // image 5 ranks it 5th (5 lower-index ties) and misses.
        Assert.That(acc.I2TTop5, Is.EqualTo(100f * 5 / 6).Within(1e-4f));
        // T2I (rows reports): report j is right when its own image scores highest; report 5's row is
        // [1,0,0,0,0,0] (its own image 5 scores 0, rank 5); reports 2, 3 point at the other image.
        Assert.That(acc.T2ITop1, Is.EqualTo(100f * 3 / 6).Within(1e-4f));
        Assert.That(acc.T2ITop5, Is.EqualTo(100f * 5 / 6).Within(1e-4f));
        Assert.That(acc.Top1, Is.EqualTo(50f).Within(1e-4f));

        RetrievalAccuracy small = RetrievalAccuracy.FromScores([0.9, 0.1, 0.8, 0.2], 2);
        Assert.That((small.I2TTop1, small.I2TTop5, small.T2ITop1, small.T2ITop5), Is.EqualTo((50f, 100f, 100f, 100f)), "k is capped at N");
    }
}
