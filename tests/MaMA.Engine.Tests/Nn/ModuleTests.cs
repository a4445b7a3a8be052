using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using EOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Nn;

/// <summary>Module trees: PyTorch state-dict names, strict loading errors, safetensors round trips, modes, gradients.</summary>
[TestFixture]
public sealed class ModuleTests
{
    private static readonly string[] ExpectedParameters =
    [
        "cls_token",
        "blocks.0.norm1.weight", "blocks.0.norm1.bias",
        "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
        "blocks.1.norm1.weight", "blocks.1.norm1.bias",
        "blocks.1.attn.qkv.weight", "blocks.1.attn.qkv.bias", "blocks.1.attn.proj.weight", "blocks.1.attn.proj.bias",
        "norm.weight", "norm.bias",
        "head.weight", "head.bias",
    ];

    [Test]
    public void NamedParametersAreStateDictKeys()
    {
        var model = new ToyModel(seed: 1);
        Assert.That(model.NamedParameters().Select(np => np.Name), Is.EqualTo(ExpectedParameters));
        Assert.That(model.Parameters().Select(p => p.Name), Is.EqualTo(ExpectedParameters), "Parameter.Name is the checkpoint key");
        Assert.That(model.Blocks[1].Attn.Qkv.Weight.Name, Is.EqualTo("blocks.1.attn.qkv.weight"));
        Assert.That(model.Blocks[0].Attn.Qkv.Weight.ShapeArray, Is.EqualTo(new[] { 12, 4 }), "Linear weight is [out, in]");
        Assert.That(model.NamedBuffers().Select(b => b.Name), Is.EqualTo(new[]
        {
            "blocks.0.norm1.running_mean", "blocks.0.norm1.scratch", "blocks.1.norm1.running_mean", "blocks.1.norm1.scratch", "norm.running_mean", "norm.scratch",
        }));
        Assert.That(model.ParameterCount, Is.EqualTo(4 + 2 * (8 + 48 + 12 + 16 + 4) + 8 + 12 + 3));
    }

    [Test]
    public void StateDictHasParametersThenPersistentBuffersPerModule()
    {
        var model = new ToyModel(seed: 1, depth: 1);
        Assert.That(model.StateDict().Keys, Is.EqualTo(new[]
        {
            "cls_token",
            "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.norm1.running_mean",
            "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
            "norm.weight", "norm.bias", "norm.running_mean",
            "head.weight", "head.bias",
        }));
    }

    [Test]
    public void NamesMatchAnEquivalentTorchModule()
    {
        var mine = new Linear(4, 3, new Random(1));
        using var theirs = torch.nn.Linear(4, 3);
        Assert.That(mine.StateDict().Keys, Is.EquivalentTo(theirs.state_dict().Keys));
        foreach ((string key, TorchSharp.torch.Tensor t) in theirs.state_dict())
            Assert.That(mine.StateDict()[key].ShapeArray, Is.EqualTo(t.shape.Select(d => (int)d).ToArray()), key);
    }

    [Test]
    public void NoWeightDecayFlagsReachTheStandardGroups()
    {
        var model = new ToyModel(seed: 1, depth: 1);
        ParamGroup[] groups = ParamGroup.DecayAndNoDecay(model.Parameters(), 1e-3, 0.05);
        Assert.That(groups[0].Parameters.Select(p => p.Name), Is.EqualTo(new[] { "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight", "head.weight" }));
        Assert.That(groups[1].Parameters, Has.Count.EqualTo(model.Parameters().Count() - 3));
    }

    [Test]
    public void LoadStateDictNamesMissingUnexpectedAndMismatchedKeysAndLoadsNothing()
    {
        var model = new ToyModel(seed: 1);
        var source = new ToyModel(seed: 2);
        var state = new Dictionary<string, EngineTensor>(source.StateDict());
        state.Remove("blocks.1.attn.proj.bias");
        state.Remove("norm.running_mean");
        state["blocks.2.attn.qkv.weight"] = EngineTensor.Zeros([12, 4]);
        state["head.weight"] = EngineTensor.Zeros([5, 4]);
        float[] before = model.Head.Bias!.ToArray<float>();

        var ex = Assert.Throws<StateDictException>(() => model.LoadStateDict(state));
        Assert.That(ex!.MissingKeys, Is.EqualTo(new[] { "blocks.1.attn.proj.bias", "norm.running_mean" }));
        Assert.That(ex.UnexpectedKeys, Is.EqualTo(new[] { "blocks.2.attn.qkv.weight" }));
        Assert.That(ex.ShapeMismatches, Is.EqualTo(new[] { "head.weight: checkpoint [5, 4] vs model [3, 4]" }));
        Assert.That(ex.Message, Does.Contain("blocks.1.attn.proj.bias").And.Contain("norm.running_mean")
            .And.Contain("blocks.2.attn.qkv.weight").And.Contain("head.weight").And.Contain("[5, 4]").And.Contain("[3, 4]"));
        Assert.That(model.Head.Bias!.ToArray<float>(), Is.EqualTo(before), "a failed load changes nothing");

        // Non-strict: missing and unexpected keys are reported, shape mismatches still fail.
        Assert.Throws<StateDictException>(() => model.LoadStateDict(state, strict: false));
        state.Remove("head.weight");
        LoadResult result = model.LoadStateDict(state, strict: false);
        Assert.That(result.MissingKeys, Is.EqualTo(new[] { "blocks.1.attn.proj.bias", "norm.running_mean", "head.weight" }));
        Assert.That(result.UnexpectedKeys, Is.EqualTo(new[] { "blocks.2.attn.qkv.weight" }));
        Assert.That(model.Head.Bias!.ToArray<float>(), Is.EqualTo(source.Head.Bias!.ToArray<float>()));
    }

    [TestCase("cpu", "cpu")]
    [TestCase("cpu", "ilgpu-cpu")]
    [TestCase("ilgpu-cpu", "cpu")]
    public void SafetensorsRoundTrip(string from, string to)
    {
        var source = new ToyModel(seed: 1, device: Device.Parse(from));
        source.Norm.SetBuffer("running_mean", EngineTensor.FromArray(new[] { 1f, 2f, 3f, 4f }, [4]));
        var target = new ToyModel(seed: 2, device: Device.Parse(to));
        Parameter targetWeight = target.Head.Weight;
        string dir = Path.Combine(Path.GetTempPath(), "mama-nn-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(dir, "model.safetensors");
            source.SaveSafetensors(path, new Dictionary<string, string> { ["format"] = "pt" });
            using (var file = Serialization.Safetensors.Open(path))
            {
                Assert.That(file.Names, Is.EquivalentTo(source.StateDict().Keys));
                Assert.That(file.Names, Does.Not.Contain("norm.scratch"), "non-persistent buffers stay out");
            }
            target.LoadSafetensors(path);
            foreach ((string key, EngineTensor t) in source.StateDict())
                Assert.That(target.StateDict()[key].ToArray<float>(), Is.EqualTo(t.ToArray<float>()), key);
            Assert.That(target.Head.Weight, Is.SameAs(targetWeight), "loading writes into the existing parameters");
            Assert.That(target.Head.Weight.Device, Is.SameAs(Device.Parse(to)));

            var wrong = new ToyModel(seed: 3, dim: 6);
            var ex = Assert.Throws<StateDictException>(() => wrong.LoadSafetensors(path));
            Assert.That(ex!.Message, Does.Contain(path).And.Contain("cls_token: checkpoint [1, 1, 4] vs model [1, 1, 6]"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void TrainAndEvalPropagateToEveryDescendant()
    {
        var model = new ToyModel(seed: 1);
        Assert.That(model.NamedModules().All(m => m.Module.IsTraining), "modules start in training mode");
        model.Eval();
        Assert.That(model.NamedModules().Select(m => m.Module.IsTraining), Is.All.False);
        Assert.That(model.NamedModules().Count(), Is.EqualTo(1 + 1 + 2 * (1 + 1 + 1 + 2) + 1 + 1));
        model.Blocks[1].Train();
        Assert.That(model.Blocks[1].Attn.Proj.IsTraining, Is.True);
        Assert.That(model.Blocks[0].Attn.Proj.IsTraining, Is.False);
        Assert.That(model.IsTraining, Is.False);
        model.Train();
        Assert.That(model.NamedModules().Select(m => m.Module.IsTraining), Is.All.True);
    }

    [Test]
    public void RegistrationRejectsBadAndDuplicateNames()
    {
        var norm = new ToyNorm(2);
        Assert.Throws<ArgumentException>(() => norm.RegisterParameter("weight", EngineTensor.Zeros([2])));
        Assert.Throws<ArgumentException>(() => norm.RegisterBuffer("running_mean", EngineTensor.Zeros([2])));
        Assert.Throws<ArgumentException>(() => norm.RegisterParameter("a.b", EngineTensor.Zeros([2])));
        Assert.Throws<ArgumentException>(() => norm.RegisterModule("self", norm));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void TwoBackwardCallsAccumulateIntoGrad(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var p = new Parameter(EngineTensor.FromArray(new[] { 1f, -2f, 3f }, [3], device), "p");
        var x1 = EngineTensor.FromArray(new[] { 0.5f, 1f, 2f }, [3], device);
        var x2 = EngineTensor.FromArray(new[] { -1f, 4f, 0.25f }, [3], device);
        EOps.Sum(EOps.Mul(p, x1)).Backward();
        Assert.That(p.Grad!.ToArray<float>(), Is.EqualTo(new[] { 0.5f, 1f, 2f }));
        EOps.Sum(EOps.Mul(p, x2)).Backward();
        Assert.That(p.Grad!.ToArray<float>(), Is.EqualTo(new[] { -0.5f, 5f, 2.25f }));
        Assert.That(x1.ToArray<float>(), Is.EqualTo(new[] { 0.5f, 1f, 2f }), "accumulation leaves the inputs alone");

        var module = new Linear(3, 2, new Random(5), device: device);
        module.Forward(x1).Backward(EngineTensor.Ones([2], device));
        Assert.That(module.Parameters().All(q => q.Grad is not null));
        module.ZeroGrad();
        Assert.That(module.Parameters().All(q => q.Grad is null));
    }

    [Test]
    public void FrozenParametersGetNoGradient()
    {
        var lin = new Linear(2, 2, new Random(3));
        lin.Weight.Freeze();
        Assert.That(lin.Weight.IsFrozen && !lin.Weight.RequiresGrad);
        EOps.Sum(lin.Forward(EngineTensor.FromArray(new[] { 1f, 2f }, [2]))).Backward();
        Assert.That(lin.Weight.Grad, Is.Null);
        Assert.That(lin.Bias!.Grad!.ToArray<float>(), Is.EqualTo(new[] { 1f, 1f }));
        lin.Weight.Unfreeze();
        Assert.That(lin.Weight.RequiresGrad);
    }

    [Test]
    public void ParameterSharesStorageAndOptimizerUpdatesAreVisibleEverywhere()
    {
        var data = EngineTensor.FromArray(new[] { 1f, 2f }, [2]);
        var lin = new Linear(2, 1, new Random(3));
        Parameter p = lin.RegisterParameter("extra", data);
        Assert.That(p.Storage, Is.SameAs(data.Storage));
        Assert.That(p.IsLeaf && p.RequiresGrad && !data.RequiresGrad);
        p.Grad = EngineTensor.FromArray(new[] { 1f, 1f }, [2]);
        new SgdMomentum([p], learningRate: 0.5, momentum: 0.0).Step();
        Assert.That(data.ToArray<float>(), Is.EqualTo(new[] { 0.5f, 1.5f }));
        Assert.That(lin.StateDict()["extra"].ToArray<float>(), Is.EqualTo(new[] { 0.5f, 1.5f }));
    }

    [Test]
    public void LinearMatchesTorchAndPyTorchInitBounds()
    {
        var lin = new Linear(16, 5, new Random(9));
        float bound = 1f / MathF.Sqrt(16);
        Assert.That(lin.Weight.ToArray<float>(), Is.All.InRange(-bound, bound));
        Assert.That(lin.Bias!.ToArray<float>(), Is.All.InRange(-bound, bound));
        Assert.That(lin.Weight.NoWeightDecay, Is.False);
        Assert.That(lin.Bias.NoWeightDecay, Is.True);
        Assert.That(new Linear(16, 5, new Random(9)).Weight.ToArray<float>(), Is.EqualTo(lin.Weight.ToArray<float>()), "seeded");

        var rng = new Random(4);
        float[] x = Enumerable.Range(0, 3 * 2 * 16).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        float[] y = lin.Forward(EngineTensor.FromArray(x, [3, 2, 16])).ToArray<float>();
        using var tx = torch.tensor(x, [3, 2, 16]);
        using var tw = torch.tensor(lin.Weight.ToArray<float>(), [5, 16]);
        using var tb = torch.tensor(lin.Bias.ToArray<float>(), [5]);
        using var ty = torch.nn.functional.linear(tx, tw, tb);
        Assert.That(y, Is.EqualTo(ty.data<float>().ToArray()).Within(1e-5f));
        Assert.That(lin.Forward(EngineTensor.FromArray(x[..16], [16])).ShapeArray, Is.EqualTo(new[] { 5 }));
        var ex = Assert.Throws<ArgumentException>(() => lin.Forward(EngineTensor.Zeros([2, 3])));
        Assert.That(ex!.Message, Does.Contain("[2, 3]"));
    }
}
