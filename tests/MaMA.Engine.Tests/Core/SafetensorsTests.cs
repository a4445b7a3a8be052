using System.Text;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

[TestFixture]
public sealed class SafetensorsTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "mama-st-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void RoundTripsEveryDType()
    {
        string path = Path.Combine(_dir, "t.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = Tensor.FromArray([1f, -2f, 3.5f, 0f, 7f, 8f], [2, 3]),
            ["bf16"] = Tensor.FromArray([1f, -2f, 3.5f], [3]).To(DType.BFloat16),
            ["f16"] = Tensor.FromArray([0.5f, 65504f], [2]).To(DType.Float16),
            ["i64"] = Tensor.FromArray(new long[] { 5, -6 }, [2]),
            ["i32"] = Tensor.FromArray(new[] { 9 }, [1]),
            ["empty"] = Tensor.Zeros([0, 4]),
        };
        Safetensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using SafetensorsFile f = Safetensors.Open(path);
        Assert.That(f.Names, Is.EquivalentTo(tensors.Keys));
        Assert.That(f.Metadata["format"], Is.EqualTo("pt"));
        foreach ((string name, Tensor t) in tensors)
        {
            Tensor back = f.Load(name);
            Assert.That(back.DType, Is.EqualTo(t.DType), name);
            Assert.That(back.ShapeArray, Is.EqualTo(t.ShapeArray), name);
            Assert.That(back.ToBytes(), Is.EqualTo(t.ToBytes()), name);
        }
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [Test]
    public void NarrowIntegersWidenToInt32AndF64NarrowsToFp32()
    {
        // Files other tools write hold dtypes the engine has no tensors of (old GPT-2 checkpoints keep
        // their causal-mask buffer as U8): they load as the torch.save reader loads them, not as a bad header.
        string path = Path.Combine(_dir, "foreign.safetensors");
        byte[] data = [200, 0xFF, 0x7F, 0x80, 0x34, 0x12, 0xFE, 0xFF, .. BitConverter.GetBytes(1.0 / 3.0), .. BitConverter.GetBytes(-2.5e300)];
        WriteRaw(path, "{\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                       + "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                       + "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[2,4]},"
                       + "\"i16\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                       + "\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]}}", data);
        using SafetensorsFile file = Safetensors.Open(path);
        Assert.That(file.Entries["u8"].Stored, Is.EqualTo("U8"));
        Assert.That(file.Entries["u8"].DType, Is.EqualTo(DType.Int32));
        Assert.That(file.Load("u8").ToArray<int>(), Is.EqualTo(new[] { 200 }));
        Assert.That(file.Load("i8").ToArray<int>(), Is.EqualTo(new[] { -1 }));
        Assert.That(file.Load("u16").ToArray<int>(), Is.EqualTo(new[] { 0x807F }));
        Assert.That(file.Load("i16").ToArray<int>(), Is.EqualTo(new[] { 0x1234, -2 }));
        Tensor f = file.Load("f64");
        Assert.That(f.DType, Is.EqualTo(DType.Float32));
        Assert.That(f.ToArray<float>(), Is.EqualTo(new[] { (float)(1.0 / 3.0), float.NegativeInfinity }));
    }

    [Test]
    public void AnUnknownDTypeIsABadHeaderNamingIt()
    {
        string path = Path.Combine(_dir, "f8.safetensors");
        WriteRaw(path, "{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        Assert.That(() => Safetensors.Open(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("'x'").And.Message.Contains("F8_E4M3"));
    }

    [Test]
    public void HeaderThatLiesAboutOffsetsIsRejected()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        WriteRaw(path, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,64]}}", new byte[16]);
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Open(path))!;
        Assert.That(e.Message, Does.Contain("'x'").And.Contain("data_offsets"));
    }

    [Test]
    public void SizeNotMatchingShapeIsRejected()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        WriteRaw(path, "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", new byte[16]);
        Assert.That(() => Safetensors.Open(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("needs 12"));
    }

    [Test]
    public void HugeHeaderLengthIsRejectedWithoutAllocating()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(path, BitConverter.GetBytes(ulong.MaxValue / 2).Concat(new byte[8]).ToArray());
        Assert.That(() => Safetensors.Open(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("header length"));
    }

    [Test]
    public void OverlappingTensorsAreRejected()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        WriteRaw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
        Assert.That(() => Safetensors.Open(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("overlap"));
    }

    [Test]
    public void MissingTensorErrorListsWhatIsThere()
    {
        string path = Path.Combine(_dir, "t.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["weight"] = Tensor.Zeros([2]) });
        using SafetensorsFile f = Safetensors.Open(path);
        Assert.That(() => f.Load("bias"), Throws.InstanceOf<KeyNotFoundException>().With.Message.Contains("weight"));
    }

    private static void WriteRaw(string path, string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, BitConverter.GetBytes((ulong)json.Length).Concat(json).Concat(data).ToArray());
    }
}
