using MaMA.Engine.Serialization;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Tensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

using static MaMA.Engine.Tests.Families.OpCommandHarness;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// <c>mama op layer_norm</c> (what the device parity check runs on CUDA's warp-per-row kernels):
/// output and the x, weight and bias gradients against TorchSharp's layer_norm, on the CPU and the
/// ILGPU simulator in both row forms; without weight and bias; and a mismatched weight exits 2.
/// </summary>
[TestFixture]
[NonParallelizable]  // switches Ops.LayerNormForm
public sealed class LayerNormOpCommandTests
{
    private const int Rows = 7, C = 45;
    private const float Eps = 1e-6f;

    private string _dir = "";

    [SetUp]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-layernorm-op-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void Clean()
    {
        MaMA.Engine.Ops.LayerNormForm = RowForm.Auto;
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [TestCase("cpu", RowForm.Auto, true)]
    [TestCase("ilgpu-cpu", RowForm.Thread, true)]
    [TestCase("ilgpu-cpu", RowForm.Warp, true)]
    [TestCase("ilgpu-cpu", RowForm.Warp, false)]
    public void ForwardAndBackwardMatchTorchSharp(string device, RowForm form, bool affine)
    {
        MaMA.Engine.Ops.LayerNormForm = form;
        float[] x = Normal(Rows * C, 5).Select(v => v + 3f).ToArray(), w = Normal(C, 6), b = Normal(C, 7), gy = Normal(Rows * C, 8);
        var inputs = new Dictionary<string, Tensor>
        {
            ["x"] = Tensor.FromArray(x, [Rows, C]),
            ["eps"] = Tensor.Scalar(Eps),
            ["grad_out"] = Tensor.FromArray(gy, [Rows, C]),
        };
        if (affine)
        {
            inputs["weight"] = Tensor.FromArray(w, [C]);
            inputs["bias"] = Tensor.FromArray(b, [C]);
        }
        string input = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        Safetensors.Write(input, inputs);
        Assert.That(RunOp("layer_norm", input, output, backward: true, out string stderr, device), Is.EqualTo(0), stderr);

        using var scope = torch.NewDisposeScope();
        TorchTensor tx = torch.tensor(x, [Rows, C]).requires_grad_(true);
        TorchTensor? tw = affine ? torch.tensor(w, [C]).requires_grad_(true) : null, tb = affine ? torch.tensor(b, [C]).requires_grad_(true) : null;
        TorchTensor y = torch.nn.functional.layer_norm(tx, [C], tw, tb, Eps);
        y.backward([torch.tensor(gy, [Rows, C])]);
        var expected = new Dictionary<string, TorchTensor> { ["out"] = y.detach(), ["grad_x"] = tx.grad! };
        if (affine)
        {
            expected["grad_weight"] = tw!.grad!;
            expected["grad_bias"] = tb!.grad!;
        }
        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(expected.Keys));
        foreach ((string name, TorchTensor e) in expected)
        {
            using Tensor actual = file.Load(name);
            Assert.That(OpResult.RelativeError(actual.ToFloatArray(), e.contiguous().data<float>().ToArray()), Is.LessThan(1e-5), name);
        }
    }

    [Test]
    public void MismatchedWeightIsAUsageError()
    {
        string input = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(new float[6], [2, 3]), ["weight"] = Tensor.FromArray(new float[4], [4]) });
        Assert.That(RunOp("layer_norm", input, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'weight' axis 0 has size 4 but 'x' axis 1 has size 3"));
    }

    [Test]
    public void AnEmptyNormalisedAxisIsAUsageErrorNamingX()
    {
        // The engine op rejects it (the reference op's checks pass): still bad input, exit 2 naming the tensor.
        string input = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros([2, 0]) });
        Assert.That(RunOp("layer_norm", input, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr), Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("layer_norm: the normalised axis of [2, 0] is empty").And.Contain("'x'"));
    }
}
