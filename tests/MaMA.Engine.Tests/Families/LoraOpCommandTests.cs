using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

using static MaMA.Engine.Tests.Families.OpCommandHarness;

namespace MaMA.Engine.Tests.Families;

/// <summary><c>mama op lora_linear</c>: outputs and gradients against TorchSharp; bad shapes exit 2 naming the tensor.</summary>
[TestFixture]
public sealed class LoraOpCommandTests
{
    private const int M = 17, In = 33, Out = 40, R = 8;
    private const float Scaling = 4f;

    private string _dir = "";

    [SetUp]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-lora-op-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static Dictionary<string, float[]> Inputs() => new()
    {
        ["x"] = Normal(M * In, 1),
        ["weight"] = Normal(In * Out, 2),
        ["bias"] = Normal(Out, 3),
        ["lora_a"] = Normal(R * In, 4),
        ["lora_b"] = Normal(Out * R, 5),
        ["grad_out"] = Normal(M * Out, 6),
    };

    private static readonly Dictionary<string, int[]> Shapes = new()
    {
        ["x"] = [M, In],
        ["weight"] = [In, Out],
        ["bias"] = [Out],
        ["lora_a"] = [R, In],
        ["lora_b"] = [Out, R],
        ["grad_out"] = [M, Out],
    };

    private string WriteInputs(Dictionary<string, float[]> values, Dictionary<string, int[]> shapes)
    {
        string path = Path.Combine(_dir, "in.safetensors");
        var tensors = new Dictionary<string, Tensor>();
        foreach ((string name, float[] v) in values) tensors[name] = Tensor.FromArray(v, shapes[name]);
        tensors["scaling"] = Tensor.Scalar(Scaling);
        Safetensors.Write(path, tensors);
        return path;
    }

    private static double RelativeError(float[] actual, float[] expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(num / den);
    }

    [Test]
    public void ForwardAndBackwardMatchTorchSharp()
    {
        Dictionary<string, float[]> values = Inputs();
        string input = WriteInputs(values, Shapes);
        string output = Path.Combine(_dir, "out.safetensors");
        int code = MaMA.Cli.Cli.Run(["op", "lora_linear", "--in", input, "--out", output, "--backward", "--device", "cpu"]);
        Assert.That(code, Is.EqualTo(0));

        using var scope = torch.NewDisposeScope();
        TorchTensor T(string name, bool grad) => torch.tensor(values[name], Shapes[name].Select(d => (long)d).ToArray()).requires_grad_(grad);
        TorchTensor x = T("x", true), w = T("weight", false), b = T("bias", true), a = T("lora_a", true), lb = T("lora_b", true);
        TorchTensor y = torch.matmul(x, w) + b + Scaling * torch.matmul(torch.matmul(x, a.t()), lb.t());
        y.backward([T("grad_out", false)]);
        var expected = new Dictionary<string, TorchTensor>
        {
            ["out"] = y.detach(),
            ["grad_x"] = x.grad!,
            ["grad_bias"] = b.grad!,
            ["grad_lora_a"] = a.grad!,
            ["grad_lora_b"] = lb.grad!,
        };

        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(expected.Keys), "out plus grad_ of every differentiable input (not weight)");
        foreach ((string name, TorchTensor e) in expected)
        {
            using Tensor actual = file.Load(name);
            Assert.That(actual.ShapeArray, Is.EqualTo(e.shape.Select(d => (int)d).ToArray()), name);
            Assert.That(RelativeError(actual.ToFloatArray(), e.contiguous().data<float>().ToArray()), Is.LessThan(1e-4), name);
        }
    }

    [TestCase("lora_a", new[] { R, In + 1 })]
    [TestCase("lora_b", new[] { Out, R + 1 })]
    [TestCase("bias", new[] { Out + 1 })]
    [TestCase("x", new[] { M, In, 1 })]
    public void WrongShapeExitsTwoNamingTheTensor(string name, int[] shape)
    {
        Dictionary<string, float[]> values = Inputs();
        var shapes = new Dictionary<string, int[]>(Shapes) { [name] = shape };
        values[name] = new float[shape.Aggregate(1, (p, d) => p * d)];
        string input = WriteInputs(values, shapes);
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = MaMA.Cli.Cli.Run(["op", "lora_linear", "--in", input, "--out", Path.Combine(_dir, "out.safetensors"), "--device", "cpu"]);
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain($"'{name}'"));
    }
}
