using MaMA.Engine.Nn;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.MaMA;
using MaMA.Model.Tests.Heads;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.MaMA;

/// <summary>
/// The whole tiny MaMA model against <see cref="TorchMaMA"/> (model.py's forward over the
/// TorchSharp reference encoders) with the same weights: every loss term, the embeddings, the
/// gradient of every trainable parameter (LoRA A and B, heads, both scales, the ViT) and the
/// BatchNorm running statistics after the step. fp32, relative error per tensor.
/// </summary>
[TestFixture]
public sealed class MaMAModelParityTests
{
    private const double LossTol = 1e-5;
    private const double GradTol = 1e-4;

    [Test]
    public void EveryLossTermAndGradientMatchesTheReference()
    {
        using var scope = NewDisposeScope();
        MaMAConfig config = MaMATestData.Config(lateLossStep: 0);
        MaMAModel model = MaMATestData.Model(config);
        var reference = new TorchMaMA(config);
        reference.LoadEngineState(model.StateDict());
        reference.MarkTrainable(0);
        reference.train();
        MaMABatch batch = MaMATestData.Batch(config);

        MaMAOutput output = model.Forward(batch, step: 0);
        TorchMaMAOutput expected = reference.Forward(Compare.Torch(batch.PixelValues), Compare.Torch(batch.InputIds), Compare.Torch(batch.AttentionMask),
            Compare.Torch(batch.PixelValues2!), step: 0);

        var report = new List<string>();
        void Check(string what, EngineTensor actual, TorchTensor want, double tol) =>
            report.Add($"{what}: {Compare.Close(actual, want, tol, what):E2}");
        // Embeddings pass BatchNorms over a few rows (S_m = 2..4 per report), which amplify rounding.
        void CheckEmb(string what, EngineTensor actual, TorchTensor want) => Check(what, actual, want, GradTol);
        Check("loss_clip_v1", output.LossClipV1, expected.ClipV1, LossTol);
        Check("loss_clip_v2", output.LossClipV2!, expected.ClipV2!, LossTol);
        Check("loss_ntxent", output.LossNtXent!, expected.NtXent!, LossTol);
        Check("loss_sla_t2i", output.LossSlaT2I!, expected.SlaT2I!, LossTol);
        Check("loss_sla_i2t", output.LossSlaI2T!, expected.SlaI2T!, LossTol);
        Check("loss", output.Loss, expected.Loss, LossTol);
        CheckEmb("image_embedding", output.Image.Embedding, expected.ImageEmbedding);
        CheckEmb("text_embedding", output.Text.Embedding, expected.TextEmbedding);
        CheckEmb("patch_embedding", output.PatchEmbedding!, expected.PatchEmbedding!);
        CheckEmb("sentence_embedding", output.SentenceEmbedding!, cat(expected.SentenceEmbeddings!.ToArray(), 0));

        output.Loss.Backward();
        expected.Loss.backward();
        // named_parameters() may list a reference parameter under its C# field name; state_dict()
        // also has the registered name, so map registered names to parameters by tensor handle.
        var byHandle = reference.named_parameters().GroupBy(p => p.parameter.Handle).ToDictionary(g => g.Key, g => g.First().parameter);
        var torchParams = reference.state_dict().Where(kv => byHandle.ContainsKey(kv.Value.Handle)).ToDictionary(kv => kv.Key, kv => byHandle[kv.Value.Handle]);
        int compared = 0;
        foreach ((string name, Parameter p) in model.NamedParameters())
        {
            TorchTensor? want = torchParams[name].grad;
            if (p.IsFrozen)
            {
                Assert.That(p.Grad, Is.Null, $"{name} is frozen but has a gradient");
                Assert.That(want is null || want.abs().max().item<float>() == 0f, $"{name} is frozen here but trains in the reference");
                continue;
            }
            Assert.That(p.Grad, Is.Not.Null, $"{name} is trainable but got no gradient");
            Assert.That(want, Is.Not.Null, $"{name}: the reference has no gradient");
            if (HeadParityTests.BeforeTrainingBatchNorm(model, name))
            {
                Assert.That(p.Grad!.ToFloatArray().Max(MathF.Abs), Is.LessThan(1e-4f), $"grad {name} should vanish (a BatchNorm follows)");
                continue;
            }
            double err = Compare.Close(p.Grad!, want!, GradTol, $"grad {name}");
            report.Add($"grad {name}: {err:E2}");
            compared++;
        }
        HeadParityTests.CompareBuffers(model.ImageEncoder.LocalEmbed, reference.ImageLocalEmbed);
        HeadParityTests.CompareBuffers(model.TextEncoder.LocalEmbed, reference.TextLocalEmbed);
        HeadParityTests.CompareBuffers(model.SimClrProj, reference.SimClrProj);
        TestContext.Out.WriteLine(string.Join(Environment.NewLine, report));

        Assert.That(compared, Is.GreaterThan(40), "gradients compared");
        string[] mustTrain =
        [
            "logit_scale", "local_scale", "img_encoder_q.model.blocks.0.attn.qkv.weight", "img_encoder_q.model.cls_token", "img_encoder_q.model.register_tokens",
            "img_encoder_q.model.pos_embed", "img_encoder_q.model.patch_embed.proj.weight", "img_encoder_q.global_embed.weight",
            "img_encoder_q.local_embed.head.0.weight", "img_encoder_q.local_embed.head.1.weight",
            "text_encoder_q.model.base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight",
            "text_encoder_q.model.base_model.model.transformer.h.1.attn.c_attn.lora_B.default.weight",
            "text_encoder_q.global_embed.bias", "text_encoder_q.local_embed.head.3.weight", "simclr_proj.layers.0.weight", "simclr_proj.layers.4.bias",
        ];
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (string name in mustTrain) Assert.That(parameters[name].Grad, Is.Not.Null, name);
        string[] mustBeFrozen =
        [
            "img_encoder_q.model.mask_token", "img_encoder_q.model.norm.weight", "img_encoder_q.model.norm.bias",
            "text_encoder_q.model.base_model.model.transformer.wte.weight", "text_encoder_q.model.base_model.model.transformer.h.0.attn.c_attn.weight",
            "text_encoder_q.model.base_model.model.transformer.ln_f.weight",
        ];
        foreach (string name in mustBeFrozen) Assert.That(parameters[name].IsFrozen, Is.True, name);
    }
}
