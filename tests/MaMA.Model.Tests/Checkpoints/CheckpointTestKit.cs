using System.Collections;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Engine.Nn;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;
using TorchSharp.PyBridge;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary>
/// Tiny configs whose settings import can infer from shapes alone (64-wide heads), seeded weights,
/// PyBridge writers for checkpoints under the original key names, and running <c>mama import</c>
/// in process with its output captured.
/// </summary>
internal static class CheckpointTestKit
{
    /// <summary>ViT: 28x28 input (2x2 patches), C 64 (one 64-wide head), 2 blocks, 4 registers.</summary>
    public static VisionConfig TinyVision { get; } = new()
    {
        ImageSize = 28, EmbedDim = 64, Depth = 2, NumHeads = 1, MlpHiddenDim = 96, NumRegisters = 4, PositionGrid = 2,
    };

    /// <summary>GPT-2: C 24, 3 heads (needs config.json's n_head), 2 layers, LoRA r 4 on c_attn (alpha 8).</summary>
    public static Gpt2Config TinyText(bool lora) => new()
    {
        VocabSize = 97, NPositions = 32, NEmbd = 24, NLayer = 2, NHead = 3, NInner = 40, ScaleAttnByInverseLayerIdx = true,
        Lora = lora ? new LoraConfig { Rank = 4, Alpha = 8f, Dropout = 0.1f, TargetModules = ["attn.c_attn"] } : null,
    };

    /// <summary>
    /// MaMA with inferable encoders: the ViT above and a GPT-2 with C 64 (one head), the GPT-2
    /// vocabulary + MaMA tokens (so the tiny token ids apply), LoRA with MaMA's alpha and dropout.
    /// </summary>
    public static MaMAConfig TinyMaMA { get; } = MaMAConfig.Tiny with
    {
        Vision = TinyVision,
        Text = Gpt2Config.Tiny with { NEmbd = 64, NHead = 1, NLayer = 2, NInner = 80, NPositions = 24, ScaleAttnByInverseLayerIdx = false, Lora = new LoraConfig { Rank = 4, TargetModules = ["attn.c_attn"] } },
        EmbedDim = 16,
        LocalHiddenDim = 32,
    };

    /// <summary>Every parameter and float buffer N(mean, std) by role, so each weight matters (LoRA B too).</summary>
    public static void Randomize(Module model, int seed)
    {
        var rng = new Random(seed);
        using var _ = GradMode.NoGrad();
        var values = new Dictionary<string, EngineTensor>(StringComparer.Ordinal);
        foreach ((string name, EngineTensor t) in model.StateDict())
        {
            values[name] = t;
            if (!t.DType.IsFloating()) continue;
            int[] shape = t.ShapeArray;
            (double mean, double std) = name switch
            {
                _ when name.EndsWith("running_var", StringComparison.Ordinal) => (1.0, 0.1),
                _ when name.EndsWith("gamma", StringComparison.Ordinal) => (0.5, 0.2),
                _ when name.EndsWith("bias", StringComparison.Ordinal) => (0.0, 0.1),
                _ when name.EndsWith("weight", StringComparison.Ordinal) && shape.Length == 1 => (1.0, 0.2),
                _ when name.EndsWith("weight", StringComparison.Ordinal) => (0.0, 1.0 / Math.Sqrt(shape.Skip(1).Aggregate(1, (a, b) => a * b))),
                _ => (0.0, 0.5),
            };
            var data = new float[t.Numel];
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            values[name] = EngineTensor.FromArray(data, shape);
        }
        model.LoadStateDict(values, strict: true);
    }

    /// <summary>A TorchSharp state dict as PyBridge's pickler wants it (insertion order kept).</summary>
    public static Dictionary<string, TorchTensor> TorchState(TorchSharp.torch.nn.Module module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>torch.save-format file of any nested dictionary (tensors, strings, numbers, lists).</summary>
    public static void SavePth(string path, IDictionary content) => PyTorchPickler.PickleStateDict(path, content);

    public static void SaveSafetensors(string path, Dictionary<string, TorchTensor> content) => TorchSharp.PyBridge.Safetensors.SaveStateDict(path, content);

    /// <summary>Renames keys (e.g. adds a prefix); keeps order.</summary>
    public static Dictionary<string, TorchTensor> Rename(Dictionary<string, TorchTensor> state, Func<string, string> rename) =>
        state.ToDictionary(kv => rename(kv.Key), kv => kv.Value);

    /// <summary>Runs <c>mama</c> in process; returns exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Mama(params string[] args)
    {
        TextWriter oldOut = Console.Out, oldErr = Console.Error;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = global::MaMA.Cli.Cli.Run(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    /// <summary>Imports and asserts success, echoing the command's output into the test log.</summary>
    public static string Import(params string[] args)
    {
        (int code, string output, string err) = Mama(["import", .. args]);
        TestContext.Out.WriteLine(output + err);
        Assert.That(code, Is.EqualTo(0), $"mama import failed: {err}");
        return output;
    }

    /// <summary>Imports expecting failure; asserts the output folder (and any partial sibling) is absent. Returns stderr.</summary>
    public static string ImportFails(string outDir, params string[] args)
    {
        (int code, string output, string err) = Mama(["import", .. args, "--out", outDir]);
        TestContext.Out.WriteLine(output + err);
        Assert.That(code, Is.Not.EqualTo(0), "import should have failed");
        Assert.That(Directory.Exists(outDir), Is.False, "a failed import left its output folder");
        string parent = Path.GetDirectoryName(Path.GetFullPath(outDir))!;
        Assert.That(Directory.GetDirectories(parent, "." + Path.GetFileName(outDir) + ".*"), Is.Empty, "a failed import left a temporary folder");
        return err;
    }

    /// <summary>||a - b|| / ||b||.</summary>
    public static double RelErr(EngineTensor actual, TorchTensor expected)
    {
        float[] a = actual.ToFloatArray();
        float[] b = expected.detach().cpu().to(TorchSharp.torch.ScalarType.Float32).contiguous().data<float>().ToArray();
        Assert.That(a.Length, Is.EqualTo(b.Length), "element counts differ");
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            num += d * d;
            den += (double)b[i] * b[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-30));
    }

    public static EngineTensor Pixels(int batch, int side, int seed)
    {
        var rng = new Random(seed);
        var values = new float[batch * 3 * side * side];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return EngineTensor.FromArray(values, [batch, 3, side, side]);
    }

    public static (EngineTensor Ids, EngineTensor Mask) Tokens(int vocab, int seed, int batch = 2, int t = 9)
    {
        var rng = new Random(seed);
        var ids = new long[batch * t];
        var mask = new long[batch * t];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = rng.Next(vocab);
            mask[i] = i % t < t - i / t * 3 ? 1 : 0; // row 0 full, row 1 with 3 padding positions
        }
        return (EngineTensor.FromArray(ids, [batch, t]), EngineTensor.FromArray(mask, [batch, t]));
    }

    /// <summary>Engine state as TorchSharp tensors under the same names (what a PyTorch trainer would have saved).</summary>
    public static Dictionary<string, TorchTensor> ToTorch(IEnumerable<KeyValuePair<string, EngineTensor>> state) =>
        state.ToDictionary(kv => kv.Key, kv => global::MaMA.Interop.Torch.TorchBridge.ToTorch(kv.Value));

    /// <summary>
    /// The state of the same network without adapters: every Conv1D weight with LoRA factors becomes
    /// W + scaling * A^T B^T (W [in, out], A [r, in], B [out, r]) and the factors are dropped, keys
    /// renamed by <paramref name="rename"/>. The plain reference modules then compute what the adapted
    /// engine model should, independently of how either implements LoRA.
    /// </summary>
    public static Dictionary<string, EngineTensor> MergeLora(IEnumerable<KeyValuePair<string, EngineTensor>> state, float scaling, Func<string, string> rename)
    {
        var all = state.ToDictionary(kv => kv.Key, kv => kv.Value);
        var result = new Dictionary<string, EngineTensor>(StringComparer.Ordinal);
        foreach ((string key, EngineTensor t) in all)
        {
            if (key.Contains(".lora_", StringComparison.Ordinal)) continue;
            string stem = key.EndsWith(".weight", StringComparison.Ordinal) ? key[..^".weight".Length] : "";
            if (stem.Length > 0 && all.TryGetValue(stem + ".lora_A.default.weight", out EngineTensor? a) && all.TryGetValue(stem + ".lora_B.default.weight", out EngineTensor? b))
            {
                int inF = t.Shape[0], outF = t.Shape[1], r = a.Shape[0];
                float[] w = t.ToFloatArray(), av = a.ToFloatArray(), bv = b.ToFloatArray();
                for (int i = 0; i < inF; i++)
                    for (int o = 0; o < outF; o++)
                    {
                        double sum = 0;
                        for (int k = 0; k < r; k++) sum += (double)av[k * inF + i] * bv[o * r + k];
                        w[i * outF + o] += (float)(scaling * sum);
                    }
                result[rename(key)] = EngineTensor.FromArray(w, [inF, outF]);
            }
            else result[rename(key)] = t;
        }
        return result;
    }

    /// <summary>A fresh folder for this test, in this run's scratch folder (deleted when the run ends, <see cref="ScratchCleanup"/>).</summary>
    public static string TempDir(string name)
    {
        string dir = Path.Combine(global::MaMA.Tests.Shared.ScratchRun.NewFolder("mama-ckpt-tests", TestContext.CurrentContext.Test.Name), name);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
