using System.Diagnostics;
using System.Text.Json;
using MaMA.Cli.Demo;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama demo [--out DIR] [--device D] [--steps N] [--batch N] [--seed N]</c>: the smallest
/// end-to-end job. Trains <see cref="DensityNet"/> on synthetic density phantoms with AdamW and
/// gradient clipping, reports held-out accuracy, and writes DIR/metrics.jsonl (one JSON object per
/// logged step), DIR/model.safetensors and DIR/summary.json (each written atomically).
/// </summary>
internal static class DemoCommand
{
    private const int ImageSize = 56;
    private const int Patch = 14;
    private const int Embed = 48;

    public static int Run(CommandLine cl)
    {
        string outDir = cl.Get("out", Path.Combine("runs", "demo"));
        Device device = DeviceOption.Read(cl);
        int steps = cl.GetInt("steps", 300);
        int batch = cl.GetInt("batch", 32);
        int seed = cl.GetInt("seed", 0);
        float lr = cl.GetFloat("lr", 3e-3f);
        cl.RejectUnknown();
        if (steps < 1 || batch < 1) throw new UsageException("--steps and --batch must be at least 1.");

        Directory.CreateDirectory(outDir);
        Console.WriteLine($"mama demo: density classification on synthetic mammography phantoms ({ImageSize}x{ImageSize}, patch {Patch}) on {device.Name}");
        (float[] trainX, long[] trainY) = DensityPhantoms.Generate(2048, ImageSize, seed);
        (float[] testX, long[] testY) = DensityPhantoms.Generate(512, ImageSize, seed + 1);

        var rng = new Random(seed);
        var model = new DensityNet(Patch, Embed, DensityPhantoms.Classes, rng, device);
        var optimizer = new AdamW(ParamGroup.DecayAndNoDecay(model.Parameters(), lr, weightDecay: 0.01));
        Console.WriteLine($"model: {model.ParameterCount:N0} parameters; AdamW lr {lr}, batch {batch}, {steps} steps");

        string metricsPath = Path.Combine(outDir, "metrics.jsonl");
        using var metrics = new StreamWriter(metricsPath, append: false);
        var watch = Stopwatch.StartNew();
        int pixels = ImageSize * ImageSize;
        float lastLoss = float.NaN;
        for (int step = 1; step <= steps; step++)
        {
            // Cosine decay to 10% over the run.
            double stepLr = lr * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * (step - 1) / steps)));
            optimizer.SetLearningRate(stepLr);
            (Tensor images, Tensor labels) = Batch(trainX, trainY, rng, batch, pixels, device);
            Tensor loss = Ops.CrossEntropy(model.Forward(images), labels);
            loss.Backward();
            float gradNorm = GradClip.ClipGradNorm(model.Parameters(), 1f);
            optimizer.Step();
            optimizer.ZeroGrad();
            lastLoss = loss.Item();
            if (!float.IsFinite(lastLoss)) throw new InvalidOperationException($"loss became {lastLoss} at step {step}; lower --lr.");
            if (step % 20 == 0 || step == 1 || step == steps)
            {
                double imagesPerSecond = step * batch / watch.Elapsed.TotalSeconds;
                metrics.WriteLine(JsonSerializer.Serialize(new { step, loss = lastLoss, lr = stepLr, grad_norm = gradNorm, images_per_s = imagesPerSecond }));
                metrics.Flush();
                Console.WriteLine($"step {step,5}/{steps}  loss {lastLoss:F4}  lr {stepLr:E2}  |g| {gradNorm:F3}  {imagesPerSecond:F0} img/s");
            }
        }

        (double accuracy, int[,] confusion) = Evaluate(model, testX, testY, pixels, device);
        Console.WriteLine($"held-out accuracy {accuracy:P1} on {testY.Length} phantoms (chance 25%)");
        string[] rowsText = Enumerable.Range(0, DensityPhantoms.Classes)
            .Select(r => string.Join(" ", Enumerable.Range(0, DensityPhantoms.Classes).Select(c => confusion[r, c].ToString().PadLeft(4)))).ToArray();
        Console.WriteLine("confusion (rows true density 1-4, columns predicted):\n" + string.Join("\n", rowsText));

        model.SaveSafetensors(Path.Combine(outDir, "model.safetensors"), new Dictionary<string, string> { ["model"] = "mama-demo-density", ["steps"] = steps.ToString() });
        WriteAtomically(Path.Combine(outDir, "summary.json"), JsonSerializer.Serialize(new
        {
            device = device.Name,
            steps,
            batch,
            seed,
            final_loss = lastLoss,
            heldout_accuracy = accuracy,
            confusion = Enumerable.Range(0, DensityPhantoms.Classes).Select(r => Enumerable.Range(0, DensityPhantoms.Classes).Select(c => confusion[r, c]).ToArray()).ToArray(),
            seconds = watch.Elapsed.TotalSeconds,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {metricsPath}, {Path.Combine(outDir, "model.safetensors")}, {Path.Combine(outDir, "summary.json")}");
        return 0;
    }

    private static (Tensor Images, Tensor Labels) Batch(float[] x, long[] y, Random rng, int batch, int pixels, Device device)
    {
        var images = new float[batch * pixels];
        var labels = new long[batch];
        for (int i = 0; i < batch; i++)
        {
            int n = rng.Next(y.Length);
            Array.Copy(x, n * pixels, images, i * pixels, pixels);
            labels[i] = y[n];
        }
        return (Tensor.FromArray(images, [batch, 1, ImageSize, ImageSize], device), Tensor.FromArray(labels, [batch], device));
    }

    private static (double Accuracy, int[,] Confusion) Evaluate(DensityNet model, float[] x, long[] y, int pixels, Device device)
    {
        model.Eval();
        var confusion = new int[DensityPhantoms.Classes, DensityPhantoms.Classes];
        int correct = 0;
        using (GradMode.NoGrad())
        {
            const int chunk = 128;
            for (int start = 0; start < y.Length; start += chunk)
            {
                int n = Math.Min(chunk, y.Length - start);
                Tensor images = Tensor.FromArray(x[(start * pixels)..((start + n) * pixels)], [n, 1, ImageSize, ImageSize], device);
                int[] predicted = Ops.Max(model.Forward(images), 1).Indices.ToArray<int>();
                for (int i = 0; i < n; i++)
                {
                    confusion[y[start + i], predicted[i]]++;
                    if (predicted[i] == y[start + i]) correct++;
                }
            }
        }
        model.Train();
        return ((double)correct / y.Length, confusion);
    }

    private static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
