using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Serialization;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Engine.Tests.Optim;

/// <summary>Optimizer state as named tensors: checkpoint, resume bit-exactly, and precise load errors.</summary>
[TestFixture]
public sealed class OptimizerStateTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from device in new[] { "cpu", "ilgpu-cpu" }
        from kind in new[] { "adamw", "sgd" }
        select new TestCaseData(kind, device).SetName($"ResumeFromSavedStateIsExact [{kind}, {device}]");

    [TestCaseSource(nameof(Cases))]
    public void ResumeFromSavedStateIsExact(string kind, string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var data = new OptimTestData(seed: 31);
        Parameter[] original = data.EngineParameters(device);
        Optimizer opt = Make(kind, original);
        for (int step = 0; step < 2; step++) Apply(data, step, original, opt, device);

        string dir = Path.Combine(Path.GetTempPath(), "mama-optim-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(dir, "optim.safetensors");
            Safetensors.Write(path, opt.StateTensors());
            var resumedParams = original.Select(p => new Parameter(EngineTensor.FromArray(p.ToArray<float>(), p.ShapeArray, device), p.Name, p.NoWeightDecay)).ToArray();
            Optimizer resumed = Make(kind, resumedParams);
            using (SafetensorsFile file = Safetensors.Open(path))
                resumed.LoadStateTensors(file.Names.ToDictionary(n => n, n => file.Load(n)));
            Assert.That(resumed.StepCount, Is.EqualTo(2));
            Assert.That(resumed.StateOf(0)!.Step, Is.EqualTo(2));
            Assert.That(opt.StateTensors().Keys, Is.EqualTo(resumed.StateTensors().Keys));

            for (int step = 2; step < OptimTestData.Steps; step++)
            {
                Apply(data, step, original, opt, device);
                Apply(data, step, resumedParams, resumed, device);
            }
            for (int i = 0; i < original.Length; i++)
                Assert.That(resumedParams[i].ToArray<float>(), Is.EqualTo(original[i].ToArray<float>()), $"parameter {i}");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void StateNamesFollowTheParameterIndex()
    {
        var data = new OptimTestData(seed: 32);
        Parameter[] ps = data.EngineParameters(Device.Cpu);
        var opt = new AdamW(ParamGroup.DecayAndNoDecay(ps, 1e-3, 0.05));
        Apply(data, 0, ps, opt, Device.Cpu);
        // Group order: decay (p0, p1) then no_decay (p2, p3).
        Assert.That(opt.StateTensors().Keys, Is.EqualTo(new[]
        {
            "step_count",
            "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
            "state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq",
            "state.2.step", "state.2.exp_avg", "state.2.exp_avg_sq",
            "state.3.step", "state.3.exp_avg", "state.3.exp_avg_sq",
        }));
        Assert.That(opt.Parameters.Select(p => p.Name), Is.EqualTo(new[] { "p0", "p1", "p2", "p3" }));
    }

    [Test]
    public void LoadErrorsNameEveryBadKeyAndChangeNothing()
    {
        var data = new OptimTestData(seed: 33);
        Parameter[] ps = data.EngineParameters(Device.Cpu);
        var opt = new AdamW(ps);
        Apply(data, 0, ps, opt, Device.Cpu);
        var state = new Dictionary<string, EngineTensor>(opt.StateTensors());
        float[] m0 = opt.StateOf(0)!.Buffers["exp_avg"].ToArray<float>();

        state.Remove("state.1.exp_avg_sq");
        state["state.9.exp_avg"] = EngineTensor.Zeros([1]);
        state["state.0.bogus"] = EngineTensor.Zeros([1]);
        state["state.2.exp_avg"] = EngineTensor.Zeros([4]);
        state["state.0.exp_avg"] = EngineTensor.Zeros([7, 5]);

        var ex = Assert.Throws<StateDictException>(() => opt.LoadStateTensors(state));
        Assert.That(ex!.MissingKeys, Is.EqualTo(new[] { "state.1.exp_avg_sq" }));
        Assert.That(ex.UnexpectedKeys, Is.EqualTo(new[] { "state.0.bogus", "state.9.exp_avg" }));
        Assert.That(ex.ShapeMismatches, Has.Count.EqualTo(1));
        Assert.That(ex.ShapeMismatches[0], Does.Contain("state.2.exp_avg").And.Contain("[4]").And.Contain("[5]").And.Contain("p2"));
        Assert.That(ex.Message, Does.Contain("state.1.exp_avg_sq").And.Contain("state.9.exp_avg").And.Contain("state.2.exp_avg"));
        Assert.That(opt.StateOf(0)!.Buffers["exp_avg"].ToArray<float>(), Is.EqualTo(m0), "nothing loaded");

        // Non-strict: unknown and incomplete entries are skipped, mismatches still fail.
        state["state.2.exp_avg"] = EngineTensor.Zeros([5]);
        LoadResult result = opt.LoadStateTensors(state, strict: false);
        Assert.That(result.MissingKeys, Is.EqualTo(new[] { "state.1.exp_avg_sq" }));
        Assert.That(opt.StateOf(1), Is.Null, "incomplete state starts fresh");
        Assert.That(opt.StateOf(0)!.Buffers["exp_avg"].ToArray<float>(), Is.All.EqualTo(0f));
    }

    private static Optimizer Make(string kind, Parameter[] ps) => kind == "adamw"
        ? new AdamW(ParamGroup.DecayAndNoDecay(ps, 1e-2, 0.1))
        : new SgdMomentum(ParamGroup.DecayAndNoDecay(ps, 1e-2, 0.1), momentum: 0.9);

    private static void Apply(OptimTestData data, int step, Parameter[] ps, Optimizer opt, Device device)
    {
        for (int i = 0; i < ps.Length; i++) ps[i].Grad = EngineTensor.FromArray(data.Grads[step][i], OptimTestData.Shapes[i], device);
        opt.Step();
    }
}
