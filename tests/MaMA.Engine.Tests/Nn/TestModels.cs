using MaMA.Engine.Nn;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Engine.Tests.Nn;

/// <summary>A ViT-shaped toy: cls_token, blocks.{i}.{norm1, attn.{qkv, proj}}, norm with a running-stat buffer, head.</summary>
internal sealed class ToyNorm : Module
{
    public ToyNorm(int dim, Device? device = null)
    {
        Weight = RegisterParameter("weight", EngineTensor.Ones([dim], device), noWeightDecay: true);
        Bias = RegisterParameter("bias", EngineTensor.Zeros([dim], device: device), noWeightDecay: true);
        RegisterBuffer("running_mean", EngineTensor.Zeros([dim], device: device));
        RegisterBuffer("scratch", EngineTensor.Zeros([2], device: device), persistent: false);
    }

    public Parameter Weight { get; }

    public Parameter Bias { get; }
}

internal sealed class ToyAttention : Module
{
    public ToyAttention(int dim, Random rng, Device? device)
    {
        Qkv = RegisterModule("qkv", new Linear(dim, 3 * dim, rng, device: device));
        Proj = RegisterModule("proj", new Linear(dim, dim, rng, device: device));
    }

    public Linear Qkv { get; }

    public Linear Proj { get; }
}

internal sealed class ToyBlock : Module
{
    public ToyBlock(int dim, Random rng, Device? device)
    {
        Norm1 = RegisterModule("norm1", new ToyNorm(dim, device));
        Attn = RegisterModule("attn", new ToyAttention(dim, rng, device));
    }

    public ToyNorm Norm1 { get; }

    public ToyAttention Attn { get; }
}

internal sealed class ToyModel : Module
{
    public ToyModel(int seed, int dim = 4, int depth = 2, int classes = 3, Device? device = null)
    {
        var rng = new Random(seed);
        ClsToken = RegisterParameter("cls_token", EngineTensor.FromArray(Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble()).ToArray(), [1, 1, dim], device), noWeightDecay: true);
        Blocks = RegisterModule("blocks", new ModuleList<ToyBlock>(Enumerable.Range(0, depth).Select(_ => new ToyBlock(dim, rng, device))));
        Norm = RegisterModule("norm", new ToyNorm(dim, device));
        Head = RegisterModule("head", new Linear(dim, classes, rng, device: device));
    }

    public Parameter ClsToken { get; }

    public ModuleList<ToyBlock> Blocks { get; }

    public ToyNorm Norm { get; }

    public Linear Head { get; }
}
