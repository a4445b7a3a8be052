using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Engine.Tests.Families;

/// <summary><c>mama op attention</c> end to end: a safetensors file in, outputs and gradients out, checked against libtorch.</summary>
[TestFixture]
public sealed class AttentionOpCommandTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-op-attention-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void ForwardAndBackwardMatchLibTorch()
    {
        int[] shape = [2, 3, 17, 24];
        int[] kept = [17, 10];
        const float scale = 0.1f;
        var rng = new Random(21);
        float[] Draw() => Enumerable.Range(0, 2 * 3 * 17 * 24).Select(_ => OpData.Normal(rng)).ToArray();
        float[] q = Draw(), k = Draw(), v = Draw(), gradOut = Draw();
        float[] keep = OpCatalog.KeepMask(2, 17, kept);
        string input = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor>
        {
            ["q"] = Tensor.FromArray(q, shape),
            ["k"] = Tensor.FromArray(k, shape),
            ["v"] = Tensor.FromArray(v, shape),
            ["key_padding_mask"] = Tensor.FromArray(keep.Select(x => (long)x).ToArray(), [2, 17]),
            ["causal"] = Tensor.Scalar(1f),
            ["scale"] = Tensor.Scalar(scale),
            ["grad_out"] = Tensor.FromArray(gradOut, shape),
        });

        int code = MaMA.Cli.Cli.Run(["op", "attention", "--in", input, "--out", output, "--backward", "--device", "cpu"]);
        Assert.That(code, Is.EqualTo(0));

        using var scope = torch.NewDisposeScope();
        long[] dims = shape.Select(x => (long)x).ToArray();
        TorchTensor tq = torch.tensor(q, dims).requires_grad_(true), tk = torch.tensor(k, dims).requires_grad_(true), tv = torch.tensor(v, dims).requires_grad_(true);
        TorchTensor expected = OpCatalog.TorchAttention(tq, tk, tv, kept, causal: true, scale);
        expected.backward([torch.tensor(gradOut, dims)]);

        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(new[] { "out", "grad_q", "grad_k", "grad_v" }));
        Check(file, "out", expected);
        Check(file, "grad_q", tq.grad!);
        Check(file, "grad_k", tk.grad!);
        Check(file, "grad_v", tv.grad!);
    }

    /// <summary>
    /// join_heads with bf16 q, k, v: out is [B, T, H D] in bf16, the [B, H, T, D] run's out transposed
    /// and rounded; --backward takes an fp32 grad_out for it.
    /// </summary>
    [Test]
    public void JoinHeadsWritesTheJoinedBf16Output()
    {
        int[] shape = [2, 3, 9, 8];
        var rng = new Random(5);
        Tensor Draw() => Tensor.FromArray(Enumerable.Range(0, 2 * 3 * 9 * 8).Select(_ => OpData.Normal(rng)).ToArray(), shape).To(DType.BFloat16);
        var inputs = new Dictionary<string, Tensor> { ["q"] = Draw(), ["k"] = Draw(), ["v"] = Draw() };
        string plainIn = Path.Combine(_dir, "plain.safetensors"), joinedIn = Path.Combine(_dir, "joined.safetensors");
        Safetensors.Write(plainIn, inputs);
        // An fp32 upstream gradient for the bf16 output, as tools/device_parity.py writes it.
        float[] gradOut = Enumerable.Range(0, 2 * 9 * 24).Select(_ => OpData.Normal(rng)).ToArray();
        Safetensors.Write(joinedIn, new Dictionary<string, Tensor>(inputs) { ["join_heads"] = Tensor.Scalar(1f), ["grad_out"] = Tensor.FromArray(gradOut, [2, 9, 24]) });
        string plainOut = Path.Combine(_dir, "plain-out.safetensors"), joinedOut = Path.Combine(_dir, "joined-out.safetensors");
        Assert.That(MaMA.Cli.Cli.Run(["op", "attention", "--in", plainIn, "--out", plainOut, "--device", "cpu"]), Is.EqualTo(0));
        Assert.That(MaMA.Cli.Cli.Run(["op", "attention", "--in", joinedIn, "--out", joinedOut, "--device", "cpu", "--backward"]), Is.EqualTo(0));

        using SafetensorsFile plain = Safetensors.Open(plainOut), joined = Safetensors.Open(joinedOut);
        Tensor o = plain.Load("out", Device.Cpu), j = joined.Load("out", Device.Cpu);
        Assert.That(o.DType, Is.EqualTo(DType.Float32));
        Assert.That(j.DType, Is.EqualTo(DType.BFloat16));
        Assert.That(j.Shape.ToArray(), Is.EqualTo(new[] { 2, 9, 24 }));
        float[] expected = o.Transpose(1, 2).Reshape(2, 9, 24).To(DType.BFloat16).ToFloatArray();
        Assert.That(j.ToFloatArray(), Is.EqualTo(expected));
        Assert.That(joined.Names, Is.EquivalentTo(new[] { "out", "grad_q", "grad_k", "grad_v" }));
        Assert.That(joined.Load("grad_q", Device.Cpu).ToFloatArray().Select(MathF.Abs).Max(), Is.GreaterThan(1e-3f), "a gradient flowed back");
    }

    [Test]
    public void AMissingTensorExitsWithTwo()
    {
        string input = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor>
        {
            ["q"] = Tensor.Zeros([1, 1, 3, 4]),
            ["k"] = Tensor.Zeros([1, 1, 3, 4]),
        });
        Assert.That(MaMA.Cli.Cli.Run(["op", "attention", "--in", input, "--out", Path.Combine(_dir, "out.safetensors"), "--device", "cpu"]), Is.EqualTo(2));
    }

    [Test]
    public void AWronglyShapedMaskExitsWithTwo()
    {
        string input = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor>
        {
            ["q"] = Tensor.Zeros([1, 1, 3, 4]),
            ["k"] = Tensor.Zeros([1, 1, 3, 4]),
            ["v"] = Tensor.Zeros([1, 1, 3, 4]),
            ["key_padding_mask"] = Tensor.Ones([1, 5]),
        });
        Assert.That(MaMA.Cli.Cli.Run(["op", "attention", "--in", input, "--out", Path.Combine(_dir, "out.safetensors"), "--device", "cpu"]), Is.EqualTo(2));
    }

    private static void Check(SafetensorsFile file, string name, TorchTensor expected)
    {
        float[] actual = file.Load(name, Device.Cpu).ToFloatArray();
        float[] reference = expected.detach().contiguous().data<float>().ToArray();
        double error = OpResult.RelativeError(actual, reference);
        Assert.That(error, Is.LessThan(1e-4), $"{name}: relative error {error:E2}");
    }
}
