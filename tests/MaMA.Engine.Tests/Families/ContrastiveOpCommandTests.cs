using MaMA.Engine.Serialization;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Tensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

using static MaMA.Engine.Tests.Families.OpCommandHarness;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// <c>mama op clip_loss</c> and <c>mama op ntxent_loss</c>: loss and gradients against TorchSharp
/// (the catalog's literal references); mismatched inputs exit 2 naming the tensors.
/// </summary>
[TestFixture]
public sealed class ContrastiveOpCommandTests
{
    private const int N = 17, E = 33;
    private const float LogitScale = 2.65926f, GradLoss = 0.75f, Temperature = 0.5f;

    private string _dir = "";

    [SetUp]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-contrastive-op-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Rows scaled to unit length (clip_loss takes normalised embeddings).</summary>
    private static float[] UnitRows(float[] x, int e)
    {
        var y = (float[])x.Clone();
        for (int r = 0; r < y.Length / e; r++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, e).Sum(j => (double)y[r * e + j] * y[r * e + j]));
            for (int j = 0; j < e; j++) y[r * e + j] = (float)(y[r * e + j] / norm);
        }
        return y;
    }

    private string Write(Dictionary<string, Tensor> tensors)
    {
        string path = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(path, tensors);
        return path;
    }

    private static double RelativeError(float[] actual, float[] expected) => OpResult.RelativeError(actual, expected);

    private static void AssertMatches(string output, Dictionary<string, TorchTensor> expected)
    {
        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(expected.Keys), "loss plus grad_ of every differentiable input");
        foreach ((string name, TorchTensor e) in expected)
        {
            using Tensor actual = file.Load(name);
            Assert.That(actual.ShapeArray, Is.EqualTo(e.shape.Select(d => (int)d).ToArray()), name);
            Assert.That(RelativeError(actual.ToFloatArray(), e.contiguous().data<float>().ToArray()), Is.LessThan(1e-4), name);
        }
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void ClipLossForwardAndBackwardMatchTorchSharp(string device)
    {
        float[] image = UnitRows(Normal(N * E, 1), E), text = UnitRows(Normal(N * E, 2), E);
        string input = Write(new()
        {
            ["image"] = Tensor.FromArray(image, [N, E]),
            ["text"] = Tensor.FromArray(text, [N, E]),
            ["logit_scale"] = Tensor.Scalar(LogitScale),
            ["grad_loss"] = Tensor.Scalar(GradLoss),
        });
        string output = Path.Combine(_dir, "out.safetensors");
        Assert.That(RunOp("clip_loss", input, output, backward: true, out string stderr, device), Is.EqualTo(0), stderr);

        using var scope = torch.NewDisposeScope();
        TorchTensor v = torch.tensor(image, [N, E]).requires_grad_(true), t = torch.tensor(text, [N, E]).requires_grad_(true);
        TorchTensor ls = torch.tensor(LogitScale).requires_grad_(true);
        TorchTensor loss = OpCatalog.TorchClipLoss(v, t, ls);
        loss.backward([torch.tensor(GradLoss)]);
        AssertMatches(output, new()
        {
            ["loss"] = loss.detach(),
            ["grad_image"] = v.grad!,
            ["grad_text"] = t.grad!,
            ["grad_logit_scale"] = ls.grad!,
        });
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void NtXentLossForwardAndBackwardMatchTorchSharp(string device)
    {
        float[] z0 = Normal(N * E, 3), z1 = Normal(N * E, 4);
        string input = Write(new()
        {
            ["z0"] = Tensor.FromArray(z0, [N, E]),
            ["z1"] = Tensor.FromArray(z1, [N, E]),
            ["temperature"] = Tensor.Scalar(Temperature),
            ["grad_loss"] = Tensor.Scalar(GradLoss),
        });
        string output = Path.Combine(_dir, "out.safetensors");
        Assert.That(RunOp("ntxent_loss", input, output, backward: true, out string stderr, device), Is.EqualTo(0), stderr);

        using var scope = torch.NewDisposeScope();
        TorchTensor a = torch.tensor(z0, [N, E]).requires_grad_(true), b = torch.tensor(z1, [N, E]).requires_grad_(true);
        TorchTensor loss = OpCatalog.TorchNtXentLoss(a, b, Temperature);
        loss.backward([torch.tensor(GradLoss)]);
        AssertMatches(output, new()
        {
            ["loss"] = loss.detach(),
            ["grad_z0"] = a.grad!,
            ["grad_z1"] = b.grad!,
        });
    }

    [Test]
    public void ClipLossForwardOnlyWritesTheLoss()
    {
        string input = Write(new()
        {
            ["image"] = Tensor.FromArray(UnitRows(Normal(N * E, 5), E), [N, E]),
            ["text"] = Tensor.FromArray(UnitRows(Normal(N * E, 6), E), [N, E]),
            ["logit_scale"] = Tensor.Scalar(0f),
        });
        string output = Path.Combine(_dir, "out.safetensors");
        Assert.That(RunOp("clip_loss", input, output, backward: false, out string stderr), Is.EqualTo(0), stderr);
        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(new[] { "loss" }));
        using Tensor loss = file.Load("loss");
        Assert.That(loss.ShapeArray, Is.Empty, "0-d loss");
    }

    [Test]
    public void MismatchedPairCountExitsTwoNamingBothTensors()
    {
        string input = Write(new()
        {
            ["image"] = Tensor.FromArray(Normal(N * E, 7), [N, E]),
            ["text"] = Tensor.FromArray(Normal((N - 1) * E, 8), [N - 1, E]),
            ["logit_scale"] = Tensor.Scalar(0f),
        });
        int code = RunOp("clip_loss", input, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'image'").And.Contain("'text'"));
    }

    [Test]
    public void MismatchedViewsExitTwoNamingBothTensors()
    {
        string input = Write(new()
        {
            ["z0"] = Tensor.FromArray(Normal(N * E, 9), [N, E]),
            ["z1"] = Tensor.FromArray(Normal(N * (E + 1), 10), [N, E + 1]),
            ["temperature"] = Tensor.Scalar(Temperature),
        });
        int code = RunOp("ntxent_loss", input, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'z0'").And.Contain("'z1'"));
    }

    [Test]
    public void MissingOrBadScalarsExitTwoNamingThem()
    {
        string clip = Write(new()
        {
            ["image"] = Tensor.FromArray(Normal(N * E, 11), [N, E]),
            ["text"] = Tensor.FromArray(Normal(N * E, 12), [N, E]),
        });
        Assert.That(RunOp("clip_loss", clip, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'logit_scale'"));

        string ntxent = Write(new()
        {
            ["z0"] = Tensor.FromArray(Normal(N * E, 13), [N, E]),
            ["z1"] = Tensor.FromArray(Normal(N * E, 14), [N, E]),
            ["temperature"] = Tensor.Scalar(0f),
        });
        Assert.That(RunOp("ntxent_loss", ntxent, Path.Combine(_dir, "out.safetensors"), backward: false, out stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'temperature'"));
    }
}
