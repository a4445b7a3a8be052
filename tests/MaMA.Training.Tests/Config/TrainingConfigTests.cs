using MaMA.Distributed.DataParallel;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Model.MaMA;
using MaMA.Training.Config;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Tests.Config;

public class TrainingConfigTests
{
    [Test]
    public void PaperConfigFileHoldsTheSpecSettings()
    {
        TrainingConfig c = TrainingConfigFile.Load(Path.Combine(TestPaths.Configs, "pretrain-paper.json"));
        Assert.Multiple(() =>
        {
            Assert.That(c.Model, Is.EqualTo("models/mama-init"), "the pre-trained encoders, assembled by `mama assemble`");
            Assert.That(c.Optimizer, Is.EqualTo(new OptimizerSettings { Lr = 4e-5, WeightDecay = 0.1, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8 }));
            Assert.That(c.Schedule, Is.EqualTo(new ScheduleSettings { WarmupSteps = 4000, MaxSteps = 40000, MinLr = 1e-8 }));
            Assert.That(c.Batch, Is.EqualTo(new BatchSettings { MicroBatch = 36, Accumulation = 2 }));
            Assert.That(c.Precision, Is.EqualTo(Precision.Bf16));
            Assert.That(c.ActivationCheckpointing, Is.True);
            Assert.That(c.MaskRatio, Is.EqualTo(1.0));
            Assert.That(c.MaskMeta, Is.EqualTo(0.8));
            Assert.That(c.Negatives, Is.EqualTo(Negatives.PerRank));
        });
        // The paper file spells out every default: the defaults are the paper's setting.
        Assert.That(c with { Model = "tiny", Workers = 4, EvalEvery = 0, EvalBatches = 8 }, Is.EqualTo(new TrainingConfig()));
    }

    [Test]
    public void ReferenceModeDecaysEveryParameterAndTheOptionExcludesTheMarkedOnes()
    {
        // The published configure_optimizers gives AdamW self.parameters() as one group.
        var model = new MaMAModel(MaMAConfig.Tiny, new Random(7), Device.Cpu);
        Parameter[] all = model.Parameters().ToArray();
        Parameter logitScale = model.NamedParameters().Single(np => np.Name == "logit_scale").Parameter;
        Assert.That(logitScale.NoWeightDecay, Is.True);

        ParamGroup[] reference = new TrainingConfig().Optimizer.ParamGroups(all);
        Assert.That(reference, Has.Length.EqualTo(1));
        Assert.That(reference[0].WeightDecay, Is.EqualTo(0.1));
        Assert.That(reference[0].Parameters, Is.EqualTo(all));

        ParamGroup[] excluding = TrainingConfigFile.Parse("{\"optimizer\": {\"exclude_from_decay\": true}}").Optimizer.ParamGroups(all);
        Assert.That(excluding.Select(g => g.WeightDecay), Is.EqualTo(new[] { 0.1, 0.0 }));
        Assert.That(excluding[0].Parameters, Does.Not.Contain(logitScale));
        Assert.That(excluding[1].Parameters, Does.Contain(logitScale));
        Assert.That(excluding[1].Parameters, Is.EqualTo(all.Where(p => p.NoWeightDecay)));
    }

    [Test]
    public void TinyConfigFileParses()
    {
        TrainingConfig c = TrainingConfigFile.Load(Path.Combine(TestPaths.Configs, "pretrain-tiny.json"));
        Assert.That(c.Model, Is.EqualTo("tiny"));
        Assert.That(c.Data, Is.Null);
        Assert.That(c.Precision, Is.EqualTo(Precision.Fp32));
    }

    [Test]
    public void JsonRoundTrips()
    {
        var c = new TrainingConfig { Model = "x", Data = "/d", Precision = Precision.Fp32, Batch = new BatchSettings { MicroBatch = 4, Accumulation = 3 } };
        Assert.That(TrainingConfigFile.Parse(TrainingConfigFile.ToJson(c)), Is.EqualTo(c));
        Assert.That(TrainingConfigFile.ToJson(c), Does.Contain("\"micro_batch\": 4"));
        Assert.That(TrainingConfigFile.ToJson(c), Does.Contain("\"precision\": \"fp32\""));
    }

    [Test]
    public void NegativesDefaultToThePublishedPerRankModeAndParse()
    {
        Assert.That(new TrainingConfig().Negatives, Is.EqualTo(Negatives.PerRank));
        Assert.That(TrainingConfigFile.ToJson(new TrainingConfig()), Does.Contain("\"negatives\": \"per_rank\""));
        TrainingConfig c = TrainingConfigFile.Parse("{\"negatives\": \"global\"}");
        Assert.That(c.Negatives, Is.EqualTo(Negatives.Global));
        Assert.That(TrainingConfigFile.Parse(TrainingConfigFile.ToJson(c)), Is.EqualTo(c));
    }

    [Test]
    public void CropScaleMinDefaultsToThePublishedTransformAndParses()
    {
        Assert.That(new TrainingConfig().CropScaleMin, Is.EqualTo(0.08));
        TrainingConfig c = TrainingConfigFile.Parse("{\"crop_scale_min\": 0.5}");
        Assert.That(c.CropScaleMin, Is.EqualTo(0.5));
        Assert.That(TrainingConfigFile.ToJson(c), Does.Contain("\"crop_scale_min\": 0.5"));
    }

    [TestCase("{\"modle\": \"tiny\"}", "unknown key 'modle'")]
    [TestCase("{\"optimizer\": {\"learning_rate\": 1}}", "unknown key 'learning_rate' at $.optimizer.")]
    [TestCase("{\"precision\": \"fp8\"}", "invalid value at $.precision: expected one of \"fp32\", \"bf16\".")]
    [TestCase("{\"batch\": {\"micro_batch\": \"8\"}}", "invalid value at $.batch.micro_batch: expected a whole number.")]
    [TestCase("{\"seed\": \"abc\"}", "invalid value at $.seed: expected a whole number, 0 or more.")]
    [TestCase("{\"precision\": 3}", "invalid value at $.precision: expected one of \"fp32\", \"bf16\".")]
    [TestCase("{\"negatives\": 0}", "invalid value at $.negatives: expected one of")]
    [TestCase("{\"batch\": 5}", "invalid value at $.batch: expected an object")]
    [TestCase("{\"activation_checkpointing\": 1}", "invalid value at $.activation_checkpointing: expected true or false.")]
    [TestCase("{\"batch\": {\"micro_batch\": 1}}", "batch.micro_batch must be at least 2")]
    [TestCase("{\"schedule\": {\"warmup_steps\": 10, \"max_steps\": 5}}", "schedule.warmup_steps")]
    [TestCase("{\"mask_meta\": 1.5}", "mask_meta")]
    [TestCase("{\"negatives\": \"local\"}", "$.negatives")]
    [TestCase("{\"crop_scale_min\": 0}", "crop_scale_min must be in (0, 1]")]
    [TestCase("{\"crop_scale_min\": 1.5}", "crop_scale_min must be in (0, 1]")]
    public void ProblemsNameTheKey(string json, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainingConfigFile.Parse(json, "cfg.json"))!;
        Assert.That(e.Message, Does.StartWith("cfg.json: "));
        Assert.That(e.Message, Does.Contain(expected));
        Assert.That(e.Message, Does.Not.Contain("System."), "no .NET type names");
    }

    [Test]
    public void MissingFileIsAClearError()
    {
        var e = Assert.Throws<FileNotFoundException>(() => TrainingConfigFile.Load("/nonexistent/x.json"))!;
        Assert.That(e.Message, Does.Contain("/nonexistent/x.json"));
    }
}
