using MaMA.Training.Probing;
using MaMA.Training.Tests.Pretraining;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Tests.Probing;

public class ClassifierTrainerTests
{
    [Test]
    public void LinearProbeWritesClassifierAndMetrics()
    {
        string outDir = TestPaths.NewScratch("probe");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = TinyRuns.DataDir, Task = ClassifierTask.Density, Steps = 4, WarmupSteps = 1, BatchSize = 8, Workers = 2, LogEvery = 2,
            };
            var trainer = new ClassifierTrainer(settings, Device.Cpu, _ => { }) { ProgressOutput = TextWriter.Null };
            ClassifierResult result = trainer.Train(outDir);
            Assert.That(result.Report.ClassCount, Is.EqualTo(4));
            Assert.That(double.IsFinite(result.LastLoss), Is.True);
            foreach (string f in new[] { "classifier.safetensors", "metrics.json", "train.jsonl", "loss.png", "confusion.png" })
                Assert.That(File.Exists(Path.Combine(outDir, f)), Is.True, f);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }
}
