using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Tests.MaMA;

/// <summary>
/// How often one MaMA training step (every loss term, bf16 autocast, forward and backward) copies
/// from the host to the device on the ILGPU simulator: each copy synchronises the stream, so the
/// GPU idles while the host catches up. Shapes and strides travel by value and constants are filled
/// on the device; what is left is host data, counted here so that a new upload in the step shows up.
/// </summary>
[TestFixture]
[NonParallelizable] // reads a process-wide counter
public sealed class StepUploadsTests
{
    [Test]
    public void ATinyStepUploadsOnlyHostData()
    {
        Device sim = Device.Parse("ilgpu-cpu");
        MaMAConfig config = MaMATestData.Config();
        var model = new MaMAModel(config, new Random(1), sim);
        MaMABatch cpuBatch = MaMATestData.Batch(config);
        var batch = new MaMABatch(cpuBatch.PixelValues.To(sim), cpuBatch.InputIds.To(sim), cpuBatch.AttentionMask.To(sim), cpuBatch.PixelValues2!.To(sim));

        long before = Tensor.DeviceUploads;
        using (Autocast.Bf16())
        {
            MaMAOutput output = model.Forward(batch, step: 3);
            Assert.That(output.Late, Is.True, "every loss term runs");
            output.Loss.Backward();
        }
        long uploads = Tensor.DeviceUploads - before;
        // GPT-2: the token and position lookups upload their ids (2), after the position ids were made
        // on the host (1). Sentence features: the row index and the offsets (2), the gather's ids (1).
        // SLA: the sentence offsets and each row's report (2), the four cross-entropies' class ids (4).
        // Backward: the embedding gradient's id order (3: unique ids, their starts, the tokens).
        Assert.That(uploads, Is.EqualTo(15), "host-to-device copies in one step");
    }

    /// <summary>
    /// With GPT-2's dropouts on (the published training), the masks are drawn on the device, the
    /// attention's inside the flash kernels: every step uploads what a step without dropout does (the
    /// op-by-op attention this replaced uploaded a causal mask per layer in its first step).
    /// </summary>
    [Test]
    public void WithTextDropoutAStepUploadsNoMore()
    {
        Device sim = Device.Parse("ilgpu-cpu");
        MaMAConfig config = MaMATestData.Config() with { Text = Gpt2Config.Tiny };
        Assert.That(config.Text.AttnPdrop, Is.GreaterThan(0f));
        var model = new MaMAModel(config, new Random(1), sim);
        MaMABatch cpuBatch = MaMATestData.Batch(config);
        var batch = new MaMABatch(cpuBatch.PixelValues.To(sim), cpuBatch.InputIds.To(sim), cpuBatch.AttentionMask.To(sim), cpuBatch.PixelValues2!.To(sim));
        var counts = new List<long>();
        for (int step = 3; step < 5; step++)
        {
            long before = Tensor.DeviceUploads;
            using (Autocast.Bf16())
            {
                MaMAOutput output = model.Forward(batch, step);
                output.Loss.Backward();
            }
            counts.Add(Tensor.DeviceUploads - before);
        }
        Assert.That(counts, Is.EqualTo(new long[] { 15, 15 }), "host-to-device copies in each step");
    }
}
