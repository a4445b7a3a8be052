using MaMA.Engine.Serialization;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Tensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

using static MaMA.Engine.Tests.Families.OpCommandHarness;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// <c>mama op bias_gelu</c>, <c>scaled_residual</c> and <c>bias_split_heads</c> (what the device
/// parity check runs on the fused CUDA kernels): outputs and every gradient against TorchSharp's
/// unfused ops on the CPU and the ILGPU simulator; mismatched shapes exit 2 naming the tensor.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class FusedEpilogueOpCommandTests
{
    private const int Rows = 7, C = 45;

    private string _dir = "";

    [SetUp]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-fused-op-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void Clean()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [TestCase("cpu", false)]
    [TestCase("cpu", true)]
    [TestCase("ilgpu-cpu", false)]
    [TestCase("ilgpu-cpu", true)]
    public void BiasGeluMatchesTorchSharp(string device, bool tanh)
    {
        float[] y = Normal(Rows * C, 1).Select(v => 2f * v).ToArray(), b = Normal(C, 2), gy = Normal(Rows * C, 3);
        var inputs = new Dictionary<string, Tensor>
        {
            ["y"] = Tensor.FromArray(y, [Rows, C]),
            ["bias"] = Tensor.FromArray(b, [C]),
            ["grad_out"] = Tensor.FromArray(gy, [Rows, C]),
        };
        if (tanh) inputs["tanh"] = Tensor.Scalar(1f);
        Dictionary<string, float[]> got = Run("bias_gelu", inputs, device);

        using var scope = torch.NewDisposeScope();
        TorchTensor ty = torch.tensor(y, [Rows, C]).requires_grad_(true), tb = torch.tensor(b, [C]).requires_grad_(true);
        TorchTensor o = tanh
            ? torch.nn.functional.gelu(ty + tb, approximate: TorchSharp.Modules.GELU.Approximate.tanh)
            : torch.nn.functional.gelu(ty + tb);
        o.backward([torch.tensor(gy, [Rows, C])]);
        Compare(got, new() { ["out"] = o.detach(), ["grad_y"] = ty.grad!, ["grad_bias"] = tb.grad! });
    }

    [TestCase("cpu", true)]
    [TestCase("ilgpu-cpu", true)]
    [TestCase("ilgpu-cpu", false)]
    public void ScaledResidualMatchesTorchSharp(string device, bool withGamma)
    {
        float[] r = Normal(Rows * C, 4), y = Normal(Rows * C, 5), b = Normal(C, 6), g = Normal(C, 7), gz = Normal(Rows * C, 8);
        var inputs = new Dictionary<string, Tensor>
        {
            ["residual"] = Tensor.FromArray(r, [Rows, C]),
            ["branch"] = Tensor.FromArray(y, [Rows, C]),
            ["bias"] = Tensor.FromArray(b, [C]),
            ["grad_out"] = Tensor.FromArray(gz, [Rows, C]),
        };
        if (withGamma) inputs["gamma"] = Tensor.FromArray(g, [C]);
        Dictionary<string, float[]> got = Run("scaled_residual", inputs, device);

        using var scope = torch.NewDisposeScope();
        TorchTensor tr = torch.tensor(r, [Rows, C]).requires_grad_(true), ty = torch.tensor(y, [Rows, C]).requires_grad_(true);
        TorchTensor tb = torch.tensor(b, [C]).requires_grad_(true), tg = torch.tensor(g, [C]).requires_grad_(true);
        TorchTensor z = withGamma ? tr + (ty + tb) * tg : tr + (ty + tb);
        z.backward([torch.tensor(gz, [Rows, C])]);
        var expected = new Dictionary<string, TorchTensor>
        {
            ["out"] = z.detach(), ["grad_residual"] = tr.grad!, ["grad_branch"] = ty.grad!, ["grad_bias"] = tb.grad!,
        };
        if (withGamma) expected["grad_gamma"] = tg.grad!;
        Compare(got, expected);
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void BiasSplitHeadsMatchesTorchSharp(string device)
    {
        const int B = 2, T = 9, H = 3, D = 4, N = 3 * H * D;
        float[] y = Normal(B * T * N, 9), b = Normal(N, 10), gy = Normal(B * T * N, 11);
        var inputs = new Dictionary<string, Tensor>
        {
            ["y"] = Tensor.FromArray(y, [B, T, N]),
            ["bias"] = Tensor.FromArray(b, [N]),
            ["heads"] = Tensor.Scalar(H),
            ["grad_out"] = Tensor.FromArray(gy, [3, B, H, T, D]),
        };
        Dictionary<string, float[]> got = Run("bias_split_heads", inputs, device);

        using var scope = torch.NewDisposeScope();
        TorchTensor ty = torch.tensor(y, [B, T, N]).requires_grad_(true), tb = torch.tensor(b, [N]).requires_grad_(true);
        TorchTensor o = (ty + tb).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4).contiguous();
        o.backward([torch.tensor(gy, [3, B, H, T, D])]);
        Compare(got, new() { ["out"] = o.detach(), ["grad_y"] = ty.grad!, ["grad_bias"] = tb.grad! });
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void BiasSplitHeadsWithoutBiasMatchesTorchSharp(string device)
    {
        const int B = 2, T = 5, H = 2, D = 3, N = 3 * H * D;
        float[] y = Normal(B * T * N, 12), gy = Normal(B * T * N, 13);
        var inputs = new Dictionary<string, Tensor>
        {
            ["y"] = Tensor.FromArray(y, [B, T, N]),
            ["heads"] = Tensor.Scalar(H),
            ["grad_out"] = Tensor.FromArray(gy, [3, B, H, T, D]),
        };
        Dictionary<string, float[]> got = Run("bias_split_heads", inputs, device);
        Assert.That(got.Keys, Has.No.Member("grad_bias"));

        using var scope = torch.NewDisposeScope();
        TorchTensor ty = torch.tensor(y, [B, T, N]).requires_grad_(true);
        TorchTensor o = ty.view(B, T, 3, H, D).permute(2, 0, 3, 1, 4).contiguous();
        o.backward([torch.tensor(gy, [3, B, H, T, D])]);
        Compare(got, new() { ["out"] = o.detach(), ["grad_y"] = ty.grad! });
    }

    [Test]
    public void MismatchedShapesAreUsageErrors()
    {
        string input = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor> { ["y"] = Tensor.FromArray(new float[6], [2, 3]), ["bias"] = Tensor.FromArray(new float[4], [4]) });
        Assert.That(RunOp("bias_gelu", input, output, backward: false, out string stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'bias' axis 0 has size 4 but 'y' axis 1 has size 3"));

        Safetensors.Write(input, new Dictionary<string, Tensor>
        {
            ["residual"] = Tensor.FromArray(new float[6], [2, 3]), ["branch"] = Tensor.FromArray(new float[9], [3, 3]),
            ["bias"] = Tensor.FromArray(new float[3], [3]), ["gamma"] = Tensor.FromArray(new float[3], [3]),
        });
        Assert.That(RunOp("scaled_residual", input, output, backward: false, out stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'branch' axis 0 has size 3 but 'residual' axis 0 has size 2"));

        Safetensors.Write(input, new Dictionary<string, Tensor>
        {
            ["y"] = Tensor.FromArray(new float[2 * 3 * 10], [2, 3, 10]), ["bias"] = Tensor.FromArray(new float[10], [10]), ["heads"] = Tensor.Scalar(2f),
        });
        Assert.That(RunOp("bias_split_heads", input, output, backward: false, out stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'y' axis 2 has size 10, not a multiple of parts x heads = 6"));
    }

    private Dictionary<string, float[]> Run(string op, Dictionary<string, Tensor> inputs, string device)
    {
        string input = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        Safetensors.Write(input, inputs);
        Assert.That(RunOp(op, input, output, backward: true, out string stderr, device), Is.EqualTo(0), stderr);
        using SafetensorsFile file = Safetensors.Open(output);
        return file.Names.ToDictionary(n => n, n =>
        {
            using Tensor t = file.Load(n);
            return t.ToFloatArray();
        });
    }

    private static void Compare(Dictionary<string, float[]> got, Dictionary<string, TorchTensor> expected)
    {
        Assert.That(got.Keys, Is.EquivalentTo(expected.Keys));
        foreach ((string name, TorchTensor e) in expected)
            Assert.That(OpResult.RelativeError(got[name], e.contiguous().data<float>().ToArray()), Is.LessThan(1e-5), name);
    }
}
