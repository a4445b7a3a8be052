using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using EOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Nn;

/// <summary>Activation recomputation gives the same values and gradients as the plain block, dropout included.</summary>
[TestFixture]
public sealed class ActivationCheckpointTests
{
    /// <summary>A residual block with a LoRA projection (dropout on) and a GELU MLP.</summary>
    private sealed class Block : Module
    {
        public Block(int seed)
        {
            var rng = new Random(seed);
            Lora = RegisterModule("c_attn", new LoraLinear(12, 12, WeightLayout.Conv1D, rng, rank: 4, alpha: 8f, dropout: 0.3f) { DropoutSeed = 7 });
            Fc = RegisterModule("fc", new Linear(12, 12, rng));
            // A non-zero B so the dropout mask reaches the output.
            using (Autograd.GradMode.NoGrad())
                TensorCopy.Into(Lora.LoraB, Tensor.FromArray(Enumerable.Range(0, 48).Select(i => 0.05f * ((i % 7) - 3)).ToArray(), [12, 4]), "lora_B");
        }

        public LoraLinear Lora { get; }

        public Linear Fc { get; }

        public Tensor Forward(Tensor x) => EOps.Add(x, Fc.Forward(EOps.Gelu(Lora.Forward(x))));
    }

    private sealed class Outer : Module
    {
        public Outer(Block inner) => RegisterModule("inner", inner);
    }

    private static (float[] Y, Dictionary<string, float[]> Grads, float[] DX, ulong Offset) Run(bool checkpoint)
    {
        var block = new Block(seed: 3);
        var x = Tensor.FromArray(Enumerable.Range(0, 5 * 12).Select(i => MathF.Sin(i * 0.37f)).ToArray(), [5, 12]);
        x.RequiresGrad = true;
        Tensor y = x;
        for (int layer = 0; layer < 2; layer++)
            y = checkpoint ? ActivationCheckpoint.Run(block, block.Forward, y) : block.Forward(y);
        Tensor loss = EOps.Sum(EOps.Mul(y, y));
        loss.Backward();
        var grads = block.NamedParameters().Where(np => np.Parameter.Grad is not null)
            .ToDictionary(np => np.Name, np => np.Parameter.Grad!.ToFloatArray());
        return (y.ToFloatArray(), grads, x.Grad!.ToFloatArray(), block.Lora.DropoutOffset);
    }

    [Test]
    public void RecomputedBlocksMatchPlainBlocks()
    {
        var plain = Run(checkpoint: false);
        var ckpt = Run(checkpoint: true);
        Assert.That(ckpt.Y, Is.EqualTo(plain.Y).Within(1e-6f));
        Assert.That(ckpt.DX, Is.EqualTo(plain.DX).Within(1e-5f));
        Assert.That(ckpt.Grads.Keys, Is.EquivalentTo(new[] { "c_attn.lora_A.default.weight", "c_attn.lora_B.default.weight", "fc.weight", "fc.bias" }));
        foreach ((string name, float[] g) in plain.Grads)
            Assert.That(ckpt.Grads[name], Is.EqualTo(g).Within(1e-5f), name);
        Assert.That(ckpt.Offset, Is.EqualTo(plain.Offset), "the random stream ends where the plain run left it");
        Assert.That(plain.Offset, Is.EqualTo(2UL));
    }

    [Test]
    public void OutputOfACheckpointedBlockIsOneRecordedNode()
    {
        var block = new Block(seed: 1);
        var x = Tensor.FromArray(new float[24], [2, 12]);
        Tensor y = ActivationCheckpoint.Run(block, block.Forward, x);
        Assert.That(y.RequiresGrad, Is.True, "the block's parameters require grad");
        Assert.That(y.GradFn!.Name, Is.EqualTo("activation_checkpoint"));
        Assert.That(y.GradFn.Edges, Has.Length.EqualTo(1));
        var outer = new Outer(block);
        Assert.That(outer.NamedParameters().Select(np => np.Name), Does.Contain("inner.fc.weight"));
        ActivationCheckpoint.Run(block, block.Forward, x);
        Assert.That(block.Fc.Weight.Name, Is.EqualTo("inner.fc.weight"), "recomputing a block does not rename its parameters relative to the block");
        using (Autograd.GradMode.NoGrad())
            Assert.That(ActivationCheckpoint.Run(block, block.Forward, x).GradFn, Is.Null, "no recording without grad mode");
    }
}
