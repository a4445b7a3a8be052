using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace MaMA.Engine.Tests.Optim;

/// <summary>
/// AdamW and SGD with momentum against torch.optim (TorchSharp): same initial parameters, the
/// same five gradient sets, two groups (weight decay on one, off on the other); parameters must
/// agree to 1e-6 relative after every step, on the fast CPU backend and the ILGPU CPU simulator.
/// </summary>
[TestFixture]
public sealed class OptimizerParityTests
{
    private const double Tolerance = 1e-6;
    private const double Lr = 1e-2;
    private const double WeightDecay = 0.1;

    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    [TestCaseSource(nameof(Devices))]
    public void AdamWMatchesTorch(string deviceName)
    {
        var data = new OptimTestData(seed: 11);
        Device device = Device.Parse(deviceName);
        Parameter[] mine = data.EngineParameters(device);
        var opt = new AdamW(ParamGroup.DecayAndNoDecay(mine, Lr, WeightDecay), beta1: 0.9, beta2: 0.999, eps: 1e-8);
        Assert.That(opt.ParamGroups.Select(g => g.WeightDecay), Is.EqualTo(new[] { WeightDecay, 0.0 }));

        TorchParameter[] theirs = data.TorchParameters();
        using var reference = torch.optim.AdamW(
        [
            new TorchSharp.Modules.AdamW.ParamGroup(Pick(theirs, decay: true), lr: Lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: WeightDecay),
            new TorchSharp.Modules.AdamW.ParamGroup(Pick(theirs, decay: false), lr: Lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0),
        ], lr: Lr, beta1: 0.9, beta2: 0.999, eps: 1e-8);

        RunAndCompare(data, device, mine, opt, theirs, () => reference.step(), deviceName, "AdamW");
    }

    [TestCaseSource(nameof(Devices))]
    public void SgdMomentumMatchesTorch(string deviceName)
    {
        var data = new OptimTestData(seed: 12);
        Device device = Device.Parse(deviceName);
        Parameter[] mine = data.EngineParameters(device);
        var opt = new SgdMomentum(ParamGroup.DecayAndNoDecay(mine, Lr, WeightDecay), momentum: 0.9);

        TorchParameter[] theirs = data.TorchParameters();
        using var reference = torch.optim.SGD(
        [
            new TorchSharp.Modules.SGD.ParamGroup(Pick(theirs, decay: true), lr: Lr, momentum: 0.9, dampening: 0, weight_decay: WeightDecay),
            new TorchSharp.Modules.SGD.ParamGroup(Pick(theirs, decay: false), lr: Lr, momentum: 0.9, dampening: 0, weight_decay: 0.0),
        ], Lr, momentum: 0.9);

        RunAndCompare(data, device, mine, opt, theirs, () => reference.step(), deviceName, "SGD");
    }

    [TestCaseSource(nameof(Devices))]
    public void PlainSgdWithoutMomentumMatchesTorch(string deviceName)
    {
        var data = new OptimTestData(seed: 13);
        Device device = Device.Parse(deviceName);
        Parameter[] mine = data.EngineParameters(device);
        var opt = new SgdMomentum(ParamGroup.DecayAndNoDecay(mine, Lr, WeightDecay), momentum: 0.0);

        TorchParameter[] theirs = data.TorchParameters();
        using var reference = torch.optim.SGD(
        [
            new TorchSharp.Modules.SGD.ParamGroup(Pick(theirs, decay: true), lr: Lr, weight_decay: WeightDecay),
            new TorchSharp.Modules.SGD.ParamGroup(Pick(theirs, decay: false), lr: Lr, weight_decay: 0.0),
        ], Lr);

        RunAndCompare(data, device, mine, opt, theirs, () => reference.step(), deviceName, "SGD (no momentum)");
        Assert.That(opt.StateTensors().Keys.Where(k => k.EndsWith("momentum_buffer")), Is.Empty);
    }

    [TestCaseSource(nameof(Devices))]
    public void ParametersWithoutGradAreSkippedStateAndAll(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var a = new Parameter(EngineTensor.FromArray(new[] { 1f, 2f }, [2], device), "a");
        var b = new Parameter(EngineTensor.FromArray(new[] { 3f, 4f }, [2], device), "b");
        var opt = new AdamW([a, b], learningRate: 0.1, weightDecay: 0.5);
        a.Grad = EngineTensor.FromArray(new[] { 0.5f, -0.5f }, [2], device);
        opt.Step();
        Assert.That(b.ToArray<float>(), Is.EqualTo(new[] { 3f, 4f }), "b had no gradient: no decay, no update");
        Assert.That(opt.StateOf(1), Is.Null);
        Assert.That(opt.StateOf(0)!.Step, Is.EqualTo(1));
        Assert.That(a.ToArray<float>(), Is.Not.EqualTo(new[] { 1f, 2f }));

        opt.ZeroGrad();
        Assert.That(a.Grad, Is.Null);
        float[] before = a.ToArray<float>();
        opt.Step();
        Assert.That(a.ToArray<float>(), Is.EqualTo(before));
        Assert.That(opt.StateOf(0)!.Step, Is.EqualTo(1));
        Assert.That(opt.StepCount, Is.EqualTo(2));
    }

    [Test]
    public void AParameterInTwoGroupsIsRejected()
    {
        var p = new Parameter(EngineTensor.Zeros([2]), "shared");
        var ex = Assert.Throws<ArgumentException>(() => _ = new AdamW([new ParamGroup([p], 1e-3), new ParamGroup([p], 1e-3)]));
        Assert.That(ex!.Message, Does.Contain("shared"));
    }

    [Test]
    public void DecayAndNoDecaySplitsOnTheFlag()
    {
        var w = new Parameter(EngineTensor.Zeros([2, 2]), "w");
        var bias = new Parameter(EngineTensor.Zeros([2]), "bias", noWeightDecay: true);
        ParamGroup[] groups = ParamGroup.DecayAndNoDecay([w, bias], 3e-4, 0.05);
        Assert.That(groups.Select(g => g.Name), Is.EqualTo(new[] { "decay", "no_decay" }));
        Assert.That(groups[0].Parameters, Is.EqualTo(new[] { w }));
        Assert.That(groups[1].Parameters, Is.EqualTo(new[] { bias }));
        Assert.That(groups[0].WeightDecay, Is.EqualTo(0.05));
        Assert.That(groups[1].WeightDecay, Is.EqualTo(0.0));
        Assert.That(groups.All(g => g.LearningRate == 3e-4));
    }

    private static void RunAndCompare(OptimTestData data, Device device, Parameter[] mine, Optimizer opt, TorchParameter[] theirs, Action torchStep, string deviceName, string what)
    {
        for (int step = 0; step < OptimTestData.Steps; step++)
        {
            for (int i = 0; i < mine.Length; i++)
            {
                mine[i].Grad = EngineTensor.FromArray(data.Grads[step][i], OptimTestData.Shapes[i], device);
                OptimTestData.SetTorchGrad(theirs[i], data.Grads[step][i], OptimTestData.Shapes[i]);
            }
            opt.Step();
            torchStep();
            double worst = 0;
            for (int i = 0; i < mine.Length; i++)
            {
                float[] expected = OptimTestData.Values(theirs[i]);
                Assert.That(expected, Is.Not.EqualTo(data.Initial[i]), "the reference did not move");
                worst = Math.Max(worst, global::MaMA.Interop.Torch.Parity.OpResult.RelativeError(mine[i].ToArray<float>(), expected));
                OptimTestData.AssertClose(mine[i].ToArray<float>(), OptimTestData.Values(theirs[i]), Tolerance,
                    $"{what} on {deviceName}, step {step + 1}, parameter {mine[i].Name} ({(OptimTestData.NoDecay[i] ? "no decay" : "decay")})");
            }
            TestContext.Out.WriteLine($"{what} on {deviceName}, step {step + 1}: largest relative error {worst:E2}");
        }
    }

    private static TorchParameter[] Pick(TorchParameter[] all, bool decay) =>
        all.Where((_, i) => OptimTestData.NoDecay[i] != decay).ToArray();
}
