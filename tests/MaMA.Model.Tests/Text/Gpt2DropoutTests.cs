using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Text;
using Device = MaMA.Engine.Devices.Device;
using EOps = MaMA.Engine.Ops;

namespace MaMA.Model.Tests.Text;

/// <summary>
/// GPT-2's training dropouts (HF embd_pdrop, attn_pdrop, resid_pdrop; 0.1 in BioMedLM and the
/// published run): where each one sits, that the flash kernels' attention with the probability
/// dropout inside equals HF's eager form op by op, and how their streams are keyed.
/// </summary>
[TestFixture]
public sealed class Gpt2DropoutTests
{
    /// <summary>
    /// HF's eager attention op by op (scores, additive masks, softmax, attn_dropout's module, times v)
    /// is the flash kernels' attention with the same dropout applied inside, forward and backward, on
    /// padded rows: without dropout (p 0) and with attn_pdrop 0.2 (the same mask, drawn by the module
    /// at the same offset). Dropout's own ops round differently, hence the wider budget there.
    /// </summary>
    [TestCase("cpu", 0f)]
    [TestCase("ilgpu-cpu", 0f)]
    [TestCase("cpu", 0.2f)]
    [TestCase("ilgpu-cpu", 0.2f)]
    public void OpByOpAttentionEqualsTheFlashKernels(string deviceName, float attnPdrop)
    {
        Device device = Device.Parse(deviceName);
        Gpt2Config config = TextTestData.Small(lora: false).WithoutDropout() with { AttnPdrop = attnPdrop };
        (float[] fused, Dictionary<string, float[]> fusedGrads) = AttentionStep(config, device, unfused: false);
        (float[] unfused, Dictionary<string, float[]> unfusedGrads) = AttentionStep(config, device, unfused: true);
        Assert.That(TextTestData.RelErr(unfused, fused), Is.LessThan(attnPdrop > 0f ? 1e-5 : 1e-6));
        Assert.That(unfusedGrads.Keys, Is.EquivalentTo(fusedGrads.Keys));
        foreach ((string name, float[] g) in fusedGrads)
            Assert.That(TextTestData.RelErr(unfusedGrads[name], g), Is.LessThan(1e-5), name);
        if (attnPdrop > 0f)
        {
            // The dropout acted: the same layer without it gives another output.
            (float[] plain, _) = AttentionStep(config with { AttnPdrop = 0f }, device, unfused: false);
            Assert.That(TextTestData.RelErr(plain, fused), Is.GreaterThan(1e-2));
        }
    }

    private static (float[] Output, Dictionary<string, float[]> Grads) AttentionStep(Gpt2Config config, Device device, bool unfused)
    {
        var attention = new Gpt2Attention(config, layerIndex: 2, new Random(5), device) { ForceUnfused = unfused };
        attention.Train();
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 6, padId: 0, device);
        float[] xs = TextTestData.Gaussians(ids.Size(0) * ids.Size(1) * config.NEmbd, seed: 7);
        var x = new Parameter(Tensor.FromArray(xs, [ids.Size(0), ids.Size(1), config.NEmbd], device), "x");
        Tensor keep = EOps.Cast(mask, DType.Float32);
        Tensor y = attention.Forward(x, keep);
        TextTestData.Objective(y, TextTestData.Gaussians((int)y.Numel, seed: 8)).Backward();
        var grads = TextTestData.Grads(attention);
        grads["x"] = x.Grad!.ToFloatArray();
        return (y.ToFloatArray(), grads);
    }

    /// <summary>
    /// attn_dropout acts on the probabilities: the layer's output equals softmax(scores + masks),
    /// dropped with the module's stream (seed, offset 0), times v, joined and projected, built here
    /// from the engine's ops; and the offset advances by one per training forward.
    /// </summary>
    [Test]
    public void AttentionDropoutDropsProbabilities()
    {
        const float p = 0.25f;
        Gpt2Config config = TextTestData.Small(lora: false).WithoutDropout() with { AttnPdrop = p };
        var attention = new Gpt2Attention(config, layerIndex: 1, new Random(9));
        attention.AttnDropout.Seed = 12345;
        attention.Train();
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 10, padId: 0);
        int b = ids.Size(0), t = ids.Size(1), c = config.NEmbd, h = config.NHead, d = config.HeadDim;
        Tensor x = Tensor.FromArray(TextTestData.Gaussians(b * t * c, seed: 11), [b, t, c]);
        Tensor keep = EOps.Cast(mask, DType.Float32);
        using var _ = GradMode.NoGrad();
        float[] actual = attention.Forward(x, keep).ToFloatArray();
        Assert.That(attention.AttnDropout.DropoutOffset, Is.EqualTo(1UL));

        // By hand: qkv = x W + b, split as [B, T, 3, H, D].
        var conv = (Conv1D)attention.CAttn;
        Tensor qkv = EOps.Add(EOps.MatMul(x, conv.Weight), conv.Bias!);
        Tensor Part(int i) => EOps.Contiguous(EOps.Permute(EOps.Narrow(EOps.Reshape(qkv, b, t, 3, h, d), 2, i, 1).Reshape(b, t, h, d), 0, 2, 1, 3));
        Tensor q = Part(0), k = Part(1), v = Part(2);
        float[] scores = EOps.Scale(EOps.MatMul(q, k, transposeB: true), attention.Scale).ToFloatArray();
        long[] keepMask = mask.ToArray<long>();
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int i = 0; i < t; i++)
                    for (int j = 0; j < t; j++)
                        if (j > i || keepMask[bi * t + j] == 0) scores[((bi * h + hi) * t + i) * t + j] = float.NegativeInfinity;
        Tensor probabilities = EOps.Softmax(Tensor.FromArray(scores, [b, h, t, t]), -1);
        Tensor dropped = EOps.Dropout(probabilities, p, 12345, 0, training: true);
        Tensor heads = EOps.Reshape(EOps.Contiguous(EOps.Transpose(EOps.MatMul(dropped, v), 1, 2)), b, t, c);
        var proj = (Conv1D)attention.CProj;
        float[] expected = EOps.Add(EOps.MatMul(heads, proj.Weight), proj.Bias!).ToFloatArray();
        Assert.That(TextTestData.RelErr(actual, expected), Is.LessThan(1e-5));

        // Something was dropped: without the dropout the output differs.
        float[] plain = EOps.Add(EOps.MatMul(EOps.Reshape(EOps.Contiguous(EOps.Transpose(EOps.MatMul(probabilities, v), 1, 2)), b, t, c), proj.Weight), proj.Bias!).ToFloatArray();
        Assert.That(TextTestData.RelErr(actual, plain), Is.GreaterThan(1e-2));
    }

    /// <summary>
    /// An <see cref="Dropout"/> module (the embedding site's kind) zeroes about p of its input, scales
    /// the survivors by 1 / (1 - p) and advances its stream by one per training forward; evaluation
    /// returns the input and draws nothing.
    /// </summary>
    [Test]
    public void EmbeddingDropoutZeroesItsShareAndScalesTheRest()
    {
        const float p = 0.25f;
        var dropout = new Dropout(p, seed: 77);
        dropout.Train();
        Tensor ones = Tensor.Ones([64, 40, 24]);
        float[] y = dropout.Forward(ones).ToFloatArray();
        double zeros = y.Count(v => v == 0f) / (double)y.Length;
        Assert.That(zeros, Is.EqualTo(p).Within(0.01), "share dropped");
        Assert.That(y.Where(v => v != 0f), Has.All.EqualTo(1f / (1f - p)).Within(1e-6f));
        Assert.That(dropout.DropoutOffset, Is.EqualTo(1UL));
        dropout.Eval();
        Assert.That(dropout.Forward(ones), Is.SameAs(ones), "evaluation: the identity, no draw");
        Assert.That(dropout.DropoutOffset, Is.EqualTo(1UL));
    }

    /// <summary>
    /// The trunk's sites are HF's modules (drop, attn.attn_dropout, attn.resid_dropout, mlp.dropout);
    /// each is keyed apart from the others, <see cref="Gpt2Transformer.SeedDropout"/> rekeys them all
    /// (other masks, same for the same seed), and they add no state-dict keys.
    /// </summary>
    [Test]
    public void SitesAreHfsModulesKeyedApartAndBySeed()
    {
        Gpt2Config config = TextTestData.Small();
        var model = new Gpt2Model(config, new Random(41));
        string[] sites = model.Transformer.NamedModules().Where(m => m.Module is Dropout).Select(m => m.Prefix.TrimEnd('.')).ToArray();
        Assert.That(sites, Is.EquivalentTo(new[] { "drop" }.Concat(Enumerable.Range(0, config.NLayer)
            .SelectMany(l => new[] { $"h.{l}.attn.attn_dropout", $"h.{l}.attn.resid_dropout", $"h.{l}.mlp.dropout" }))));
        ulong[] keys = model.Transformer.NamedModules().Select(m => m.Module).OfType<Dropout>().Select(d => d.Seed).ToArray();
        Assert.That(keys.Distinct().Count(), Is.EqualTo(keys.Length), "every site its own stream");
        Assert.That(model.StateDict().Keys.Where(k => k.Contains("drop", StringComparison.Ordinal)), Is.Empty);

        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 42, padId: 0);
        float[] Run(ulong seed)
        {
            var m = new Gpt2Model(config, new Random(41));
            m.Transformer.SeedDropout(seed);
            m.Train();
            using var _ = GradMode.NoGrad();
            return m.Forward(ids, mask).ToFloatArray();
        }
        Assert.That(Run(7), Is.EqualTo(Run(7)), "the same seed draws the same masks");
        Assert.That(TextTestData.RelErr(Run(8), Run(7)), Is.GreaterThan(1e-3), "another seed draws other masks");
        model.Transformer.SeedDropout(7);
        Assert.That(model.Transformer.NamedModules().Select(m => m.Module).OfType<Dropout>().Select(d => d.Seed), Is.Not.EqualTo(keys));
    }

    /// <summary>Without LoRA, only GPT-2's dropouts act in training: each of the three alone changes the output, and all at 0 give evaluation's output.</summary>
    [Test]
    public void EachDropoutActsInTrainingAndNoneInEvaluation()
    {
        Gpt2Config none = TextTestData.Small(lora: false).WithoutDropout();
        (Tensor ids, Tensor mask) = TextTestData.Batch(none.VocabSize, seed: 51, padId: 0);
        float[] Run(Gpt2Config config, bool training)
        {
            var m = new Gpt2Model(config, new Random(52));
            if (training) m.Train(); else m.Eval();
            using var _ = GradMode.NoGrad();
            return m.Forward(ids, mask).ToFloatArray();
        }
        float[] eval = Run(none, training: false);
        Assert.That(TextTestData.RelErr(Run(none, training: true), eval), Is.LessThan(1e-6), "no dropout: training = evaluation");
        foreach (Gpt2Config one in new[] { none with { EmbdPdrop = 0.1f }, none with { AttnPdrop = 0.1f }, none with { ResidPdrop = 0.1f } })
        {
            Assert.That(TextTestData.RelErr(Run(one, training: true), eval), Is.GreaterThan(1e-3), one.ToString());
            Assert.That(TextTestData.RelErr(Run(one, training: false), eval), Is.LessThan(1e-6), "evaluation ignores it");
        }
    }

    /// <summary>A rank's rows (DropoutRows) draw the masks those rows have in the whole batch, for every GPT-2 site.</summary>
    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void RowsOfARankDrawTheMasksOfTheWholeBatch(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        Gpt2Config config = TextTestData.Small(lora: false);
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 61, padId: 0, device);
        int b = ids.Size(0), t = ids.Size(1), c = config.NEmbd;
        float[] whole, rows;
        using (GradMode.NoGrad())
        {
            var m = new Gpt2Model(config, new Random(62), device);
            m.Train();
            whole = m.Forward(ids, mask).ToFloatArray();
            var r = new Gpt2Model(config, new Random(62), device);
            r.Train();
            using (DropoutRows.Scope(1, b - 1))
                rows = r.Forward(EOps.Contiguous(EOps.Narrow(ids, 0, 1, b - 1)), EOps.Contiguous(EOps.Narrow(mask, 0, 1, b - 1))).ToFloatArray();
        }
        Assert.That(TextTestData.RelErr(rows, whole.AsSpan(t * c).ToArray()), Is.LessThan(1e-6));
    }
}
