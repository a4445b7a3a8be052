using System.Text.Json;
using MaMA.Data.Embed;
using MaMA.Data.Images;
using MaMA.Engine.Autograd;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Tests.ZeroShot;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Evaluation.Tests.Embedding;

/// <summary>
/// <c>mama embed</c>: shapes, unit norms, the file list and skipped images in the metadata, rows
/// equal to a single-image forward, sentence offsets, EMBED labels, and usage errors.
/// </summary>
[TestFixture]
public sealed class EmbedCommandTests
{
    private static void AssertUnitRows(float[] values, int width)
    {
        for (int r = 0; r < values.Length / width; r++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, width).Sum(j => (double)values[r * width + j] * values[r * width + j]));
            Assert.That(norm, Is.EqualTo(1.0).Within(1e-4), $"row {r}");
        }
    }

    [Test]
    public void ImagesAndTextsWithPatchesAndSentences()
    {
        string images = EvalTestData.NewDir("embed-images");
        EmbedDataset data = EmbedDataset.Load(EvalTestData.Data);
        string[] sources = data.Records.Take(3).Select(r => r.Path).ToArray();
        for (int i = 0; i < sources.Length; i++) File.Copy(sources[i], Path.Combine(images, $"img{i}.png"));
        File.WriteAllText(Path.Combine(images, "bad.png"), "not a png");
        string texts = Path.Combine(EvalTestData.NewDir("embed-texts"), "texts.txt");
        File.WriteAllLines(texts, ["The breast is extremely dense. No mass; no calcification.", "", "Negative."]);
        string output = Path.Combine(EvalTestData.NewDir("embed-out"), "emb.safetensors");

        (int code, string stdout, string stderr) = EvalTestData.Run("embed", "--model", EvalTestData.Model, "--images", images, "--texts", texts,
            "--out", output, "--patches", "--sentences", "--batch", "2", "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("bad.png"));
        Assert.That(stdout, Does.Contain("embedded 3 images (1 skipped) and 2 texts"));

        int e = EvalTestData.Config.EmbedDim, p = EvalTestData.Config.Vision.NumPatches;
        using SafetensorsFile file = Safetensors.Open(output);
        Tensor global = file.Load("image_embedding"), patches = file.Load("patch_embedding");
        Tensor text = file.Load("text_embedding"), sentences = file.Load("sentence_embedding"), offsets = file.Load("sentence_offsets");
        Assert.That(global.ShapeArray, Is.EqualTo(new[] { 3, e }));
        Assert.That(patches.ShapeArray, Is.EqualTo(new[] { 3, p, e }));
        Assert.That(text.ShapeArray, Is.EqualTo(new[] { 2, e }));
        Assert.That(offsets.ToArray<long>(), Is.EqualTo(new long[] { 0, 3, 4 }), "3 sentences ('.', ';', '.') then 1");
        Assert.That(sentences.ShapeArray, Is.EqualTo(new[] { 4, e }));
        AssertUnitRows(global.ToFloatArray(), e);
        AssertUnitRows(patches.ToFloatArray(), e);
        AssertUnitRows(text.ToFloatArray(), e);
        AssertUnitRows(sentences.ToFloatArray(), e);

        string[] listed = JsonSerializer.Deserialize<string[]>(file.Metadata["images"])!;
        Assert.That(listed.Select(Path.GetFileName), Is.EqualTo(new[] { "img0.png", "img1.png", "img2.png" }));
        Assert.That(file.Metadata["skipped"], Does.Contain("bad.png"));
        Assert.That(JsonSerializer.Deserialize<string[]>(file.Metadata["texts"]), Has.Length.EqualTo(2));

        // Row 1 (batched with row 0) equals the image encoded alone.
        var model = ModelFactory.Load<MaMAModel>(EvalTestData.Model, Device.Cpu);
        model.Eval();
        var transform = new MaMA.Data.Images.Transforms.MammoTransform(new() { ImageSize = 42, CropSize = 42 });
        float[] alone;
        using (GradMode.NoGrad())
            alone = model.EncodeImage(Tensor.FromArray(transform.Eval(ImageReader.ReadGrey8(listed[1])), [1, 3, 42, 42])).Embedding.ToFloatArray();
        Assert.That(global.ToFloatArray().AsSpan(e, e).ToArray(), Is.EqualTo(alone).Within(1e-5));
    }

    [Test]
    public void AFolderListTakesDicomFilesNamedByTheirUid()
    {
        // Exported DICOMs are often named by UID: Path.GetExtension gives ".10002", which was dropped silently.
        string dir = EvalTestData.NewDir("embed-uids");
        foreach (string name in new[] { "1.2.826.0.1.3680043.8.498.10002", "IM0001", "a.png", "b.PNG", "notes.txt", "scan.v2" })
            File.WriteAllText(Path.Combine(dir, name), "");
        var list = MaMA.Evaluation.Embedding.ImageList.FromFolder(dir);
        Assert.That(list.Paths.Select(Path.GetFileName), Is.EqualTo(new[] { "1.2.826.0.1.3680043.8.498.10002", "IM0001", "a.png", "b.PNG" }));
    }

    [Test]
    public void EmbedFolderSplitCarriesLabels()
    {
        string output = Path.Combine(EvalTestData.NewDir("embed-data"), "emb.safetensors");
        (int code, _, string stderr) = EvalTestData.Run("embed", "--model", EvalTestData.Model, "--data", EvalTestData.Data, "--split", "train", "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        EmbedDataset data = EmbedDataset.Load(EvalTestData.Data);
        int n = data.InSplit(data.LoadOrCreateSplits(), MaMA.Data.Splits.DataSplit.Train).Count;
        using SafetensorsFile file = Safetensors.Open(output);
        Assert.That(file.Load("image_embedding").ShapeArray, Is.EqualTo(new[] { n, EvalTestData.Config.EmbedDim }));
        Assert.That(file.Load("birads").ToArray<long>(), Has.Length.EqualTo(n).And.All.InRange(0, 6));
        Assert.That(file.Load("density").ToArray<long>(), Has.All.InRange(-1, 3));
        Assert.That(file.Contains("text_embedding"), Is.False);
    }

    [Test]
    public void UsageErrorsExitWithTwo()
    {
        Assert.That(EvalTestData.Run("embed", "--model", EvalTestData.Model, "--out", "x.safetensors").Code, Is.EqualTo(2), "nothing to embed");
        Assert.That(EvalTestData.Run("embed", "--model", EvalTestData.Model, "--images", EvalTestData.Data, "--data", EvalTestData.Data, "--out", "x.safetensors").Code, Is.EqualTo(2), "two sources");
        Assert.That(EvalTestData.Run("embed", "--model", EvalTestData.Model, "--images", "/nonexistent", "--out", "x.safetensors").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("embed", "--model", EvalTestData.Model, "--images", EvalTestData.Data, "--sentences", "--out", "x.safetensors").Code, Is.EqualTo(2), "--sentences without --texts");
    }
}
