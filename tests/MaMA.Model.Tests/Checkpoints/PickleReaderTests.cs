using System.Collections;
using System.Numerics;
using System.Text;
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Import;
using TorchSharp;
using TorchSharp.PyBridge;
using static MaMA.Model.Tests.Checkpoints.CheckpointTestKit;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary>
/// The pickle reader behind .pth/.bin/.ckpt import: objects it cannot construct are kept, not
/// fatal (what Lightning's hyper_parameters need), damaged input is a clear error, and tensors
/// read the same as through PyBridge's own unpickler.
/// </summary>
[TestFixture]
public sealed class PickleReaderTests
{
    private static byte[] Pickle(params object[] parts)
    {
        var ms = new MemoryStream();
        foreach (object p in parts)
            switch (p)
            {
                case byte b: ms.WriteByte(b); break;
                case string s: ms.Write(Encoding.UTF8.GetBytes(s)); break;
                case byte[] bytes: ms.Write(bytes); break;
                default: throw new ArgumentException(p.GetType().Name);
            }
        return ms.ToArray();
    }

    private static byte[] Str(string s) => [0x8c, (byte)s.Length, .. Encoding.UTF8.GetBytes(s)]; // SHORT_BINUNICODE

    [Test]
    public void UnknownObjectsAreKeptNotFatal()
    {
        byte[] lr = BitConverter.GetBytes(0.1);
        Array.Reverse(lr); // BINFLOAT is big-endian
        byte[] program = Pickle(
            (byte)0x80, (byte)2, (byte)'}', (byte)'(',
            Str("path"), "cpathlib\nPosixPath\n", Str("/data/embed"), (byte)0x85, (byte)'R',        // PosixPath('/data/embed')
            Str("ns"), "cargparse\nNamespace\n", (byte)')', (byte)0x81, (byte)'}', Str("lr"), (byte)'G', lr, (byte)'s', (byte)'b', // Namespace(lr=0.1)
            Str("big"), (byte)0x8a, (byte)9, new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 1 },              // 2**64
            Str("flags"), (byte)']', (byte)'(', (byte)0x88, (byte)0x89, (byte)'N', (byte)'e',
            (byte)'u', (byte)'.');
        var root = (OrderedDictionary<object, object?>)new PickleMachine(program, "test.pkl").Load()!;
        var path = (PickledObject)root["path"]!;
        Assert.That((path.Type.ToString(), path.Args[0]), Is.EqualTo(("pathlib.PosixPath", (object)"/data/embed")));
        var ns = (PickledObject)root["ns"]!;
        Assert.That(((OrderedDictionary<object, object?>)ns.State!)["lr"], Is.EqualTo(0.1));
        Assert.That(root["big"], Is.EqualTo(BigInteger.Pow(2, 64)));
        Assert.That(root["flags"], Is.EqualTo(new List<object?> { true, false, null }));
    }

    [Test]
    public void DamagedPickleIsAClearError()
    {
        byte[] program = Pickle((byte)0x80, (byte)2, (byte)'}', (byte)'(', (byte)0x8c, (byte)40, "short");
        Assert.That(() => new PickleMachine(program, "x.pkl").Load(), Throws.TypeOf<InvalidDataException>().With.Message.Contains("x.pkl").And.Message.Contains("ends early"));
        Assert.That(() => new PickleMachine([0x80, 2, 0xff], "y.pkl").Load(), Throws.TypeOf<InvalidDataException>().With.Message.Contains("opcode 0xff"));
    }

    [Test]
    public void TensorsMatchPyBridgesUnpickler()
    {
        var state = new Dictionary<string, torch.Tensor>
        {
            ["f32"] = torch.randn(3, 5),
            ["bf16"] = torch.randn(4, 2).to(torch.ScalarType.BFloat16),
            ["f64"] = torch.randn(7, dtype: torch.ScalarType.Float64),
            ["i64"] = torch.tensor(42L),
            ["bool"] = torch.tensor(new[] { true, false, true }),
        };
        string path = Path.Combine(TempDir("p"), "t.pth");
        SavePth(path, state);
        Hashtable reference = PyTorchUnpickler.UnpickleStateDict(path);
        using TorchZipCheckpoint ours = TorchZipCheckpoint.Open(path);
        var (tensors, _, _) = StateDictLocator.Locate(ours);
        Assert.That(tensors.Keys, Is.EquivalentTo(state.Keys));
        foreach ((string key, var source) in tensors)
        {
            var expected = TorchBridge.FromTorch((torch.Tensor)reference[key]!);
            var actual = source.Read();
            Assert.That(actual.ShapeArray, Is.EqualTo(expected.ShapeArray), key);
            Assert.That(actual.ToFloatArray(), Is.EqualTo(expected.ToFloatArray()), key);
        }
    }
}
