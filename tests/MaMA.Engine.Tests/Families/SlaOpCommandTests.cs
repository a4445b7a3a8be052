using MaMA.Engine.Serialization;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Tensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

using static MaMA.Engine.Tests.Families.OpCommandHarness;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// <c>mama op sla_loss</c>: the four outputs and the gradients of patches, sentences and
/// local_scale against TorchSharp (the catalog's full-similarity reference); bad
/// <c>sentence_offsets</c> exit 2 naming them.
/// </summary>
[TestFixture]
public sealed class SlaOpCommandTests
{
    private const int N = 4, P = 19, E = 29;
    private const float LocalScale = 1.3f;
    private static readonly long[] Offsets = OpCatalog.SlaOffsets([2, 1, 4, 3]);

    private string _dir = "";

    [SetUp]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mama-sla-op-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static int Rows => (int)Offsets[^1];

    /// <summary>Unit rows of E values (the op takes normalised embeddings).</summary>
    private static float[] UnitRows(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * E];
        for (int r = 0; r < rows; r++)
        {
            float[] row = Enumerable.Range(0, E).Select(_ => OpData.Normal(rng)).ToArray();
            double norm = Math.Sqrt(row.Sum(v => (double)v * v));
            for (int j = 0; j < E; j++) x[r * E + j] = (float)(row[j] / norm);
        }
        return x;
    }

    private string Write(Dictionary<string, Tensor> tensors)
    {
        string path = Path.Combine(_dir, "in.safetensors");
        Safetensors.Write(path, tensors);
        return path;
    }

    private static int RunOp(string input, string output, bool backward, out string stderr) =>
        OpCommandHarness.RunOp("sla_loss", input, output, backward, out stderr);

    [Test]
    public void ForwardAndBackwardMatchTorchSharp()
    {
        float[] patches = UnitRows(N * P, 1), sentences = UnitRows(Rows, 2);
        float[] gT2I = Normal(N * N, 3), gI2T = Normal(N * N, 4);
        const float gLossT2I = 0.75f, gLossI2T = -1.25f;
        string input = Write(new()
        {
            ["patches"] = Tensor.FromArray(patches, [N, P, E]),
            ["sentences"] = Tensor.FromArray(sentences, [Rows, E]),
            ["sentence_offsets"] = Tensor.FromArray(Offsets, [N + 1]),
            ["local_scale"] = Tensor.Scalar(LocalScale),
            ["grad_loss_t2i"] = Tensor.Scalar(gLossT2I),
            ["grad_loss_i2t"] = Tensor.Scalar(gLossI2T),
            ["grad_t2i"] = Tensor.FromArray(gT2I, [N, N]),
            ["grad_i2t"] = Tensor.FromArray(gI2T, [N, N]),
        });
        string output = Path.Combine(_dir, "out.safetensors");
        Assert.That(RunOp(input, output, backward: true, out string stderr), Is.EqualTo(0), stderr);

        using var scope = torch.NewDisposeScope();
        TorchTensor tp = torch.tensor(patches, [N, P, E]).requires_grad_(true);
        TorchTensor ts = torch.tensor(sentences, [Rows, E]).requires_grad_(true);
        TorchTensor tl = torch.tensor(LocalScale).requires_grad_(true);
        var r = OpCatalog.SlaReference(tp, ts, Offsets, tl);
        TorchTensor objective = r.LossT2I * torch.tensor(gLossT2I) + r.LossI2T * torch.tensor(gLossI2T)
            + (r.T2I * torch.tensor(gT2I, [N, N])).sum() + (r.I2T * torch.tensor(gI2T, [N, N])).sum();
        objective.backward();
        var expected = new Dictionary<string, TorchTensor>
        {
            ["loss_t2i"] = r.LossT2I.detach(),
            ["loss_i2t"] = r.LossI2T.detach(),
            ["t2i"] = r.T2I.detach(),
            ["i2t"] = r.I2T.detach(),
            ["grad_patches"] = tp.grad!,
            ["grad_sentences"] = ts.grad!,
            ["grad_local_scale"] = tl.grad!,
        };

        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(expected.Keys), "the four outputs plus grad_ of every differentiable input");
        foreach ((string name, TorchTensor e) in expected)
        {
            using Tensor actual = file.Load(name);
            Assert.That(actual.ShapeArray, Is.EqualTo(e.shape.Select(d => (int)d).ToArray()), name);
            Assert.That(OpResult.RelativeError(actual.ToFloatArray(), e.contiguous().data<float>().ToArray()), Is.LessThan(1e-4), name);
        }
    }

    [Test]
    public void ForwardOnlyWritesTheFourOutputs()
    {
        string input = Write(new()
        {
            ["patches"] = Tensor.FromArray(UnitRows(N * P, 5), [N, P, E]),
            ["sentences"] = Tensor.FromArray(UnitRows(Rows, 6), [Rows, E]),
            ["sentence_offsets"] = Tensor.FromArray(Array.ConvertAll(Offsets, v => (int)v), [N + 1]),
            ["local_scale"] = Tensor.Scalar(0f),
        });
        string output = Path.Combine(_dir, "out.safetensors");
        Assert.That(RunOp(input, output, backward: false, out string stderr), Is.EqualTo(0), stderr);
        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Names, Is.EquivalentTo(new[] { "loss_t2i", "loss_i2t", "t2i", "i2t" }));
        Assert.That(file.Entries["t2i"].Shape, Is.EqualTo(new[] { N, N }));
        Assert.That(file.Entries["loss_t2i"].Shape, Is.Empty, "0-d loss");
    }

    [TestCase(new long[] { 1, 3, 4, 8, 10 }, "start at 0")]
    [TestCase(new long[] { 0, 3, 3, 8, 10 }, "increase strictly")]
    [TestCase(new long[] { 0, 3, 2, 8, 10 }, "increase strictly")]
    [TestCase(new long[] { 0, 3, 4, 8, 9 }, "end at the number of rows")]
    [TestCase(new long[] { 0, 3, 4, 10 }, "N + 1")]
    public void BadOffsetsExitTwoNamingThem(long[] offsets, string reason)
    {
        string input = Write(new()
        {
            ["patches"] = Tensor.FromArray(UnitRows(N * P, 7), [N, P, E]),
            ["sentences"] = Tensor.FromArray(UnitRows(Rows, 8), [Rows, E]),
            ["sentence_offsets"] = Tensor.FromArray(offsets, [offsets.Length]),
            ["local_scale"] = Tensor.Scalar(0f),
        });
        int code = RunOp(input, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("'sentence_offsets'").And.Contain(reason));
    }

    [Test]
    public void MissingOrMisshapenInputsExitTwoNamingThem()
    {
        string noOffsets = Write(new()
        {
            ["patches"] = Tensor.FromArray(UnitRows(N * P, 9), [N, P, E]),
            ["sentences"] = Tensor.FromArray(UnitRows(Rows, 10), [Rows, E]),
            ["local_scale"] = Tensor.Scalar(0f),
        });
        Assert.That(RunOp(noOffsets, Path.Combine(_dir, "out.safetensors"), backward: false, out string stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'sentence_offsets'"));

        string floatOffsets = Write(new()
        {
            ["patches"] = Tensor.FromArray(UnitRows(N * P, 9), [N, P, E]),
            ["sentences"] = Tensor.FromArray(UnitRows(Rows, 10), [Rows, E]),
            ["sentence_offsets"] = Tensor.FromArray(Array.ConvertAll(Offsets, v => (float)v), [N + 1]),
            ["local_scale"] = Tensor.Scalar(0f),
        });
        Assert.That(RunOp(floatOffsets, Path.Combine(_dir, "out.safetensors"), backward: false, out stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'sentence_offsets'"));

        string wideSentences = Write(new()
        {
            ["patches"] = Tensor.FromArray(UnitRows(N * P, 9), [N, P, E]),
            ["sentences"] = Tensor.FromArray(Normal(Rows * (E + 1), 10), [Rows, E + 1]),
            ["sentence_offsets"] = Tensor.FromArray(Offsets, [N + 1]),
            ["local_scale"] = Tensor.Scalar(0f),
        });
        Assert.That(RunOp(wideSentences, Path.Combine(_dir, "out.safetensors"), backward: false, out stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'sentences'").And.Contain("'patches'"));

        string vectorScale = Write(new()
        {
            ["patches"] = Tensor.FromArray(UnitRows(N * P, 9), [N, P, E]),
            ["sentences"] = Tensor.FromArray(UnitRows(Rows, 10), [Rows, E]),
            ["sentence_offsets"] = Tensor.FromArray(Offsets, [N + 1]),
            ["local_scale"] = Tensor.FromArray(new float[] { 0f, 1f }, [2]),
        });
        Assert.That(RunOp(vectorScale, Path.Combine(_dir, "out.safetensors"), backward: false, out stderr), Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'local_scale'"));
    }
}
