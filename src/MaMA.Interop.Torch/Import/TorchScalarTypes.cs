using MaMA.Engine.Tensors;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// PyTorch element types as they appear in checkpoints (storage class names in <c>torch.save</c>
/// pickles, ScalarType codes in TorchSharp's <c>.dat</c>) and the engine dtype each is read as:
/// fp64 narrows to fp32, 8/16-bit integers widen to int32.
/// </summary>
public static class TorchScalarTypes
{
    /// <summary>(bytes per element, engine dtype) of a <c>torch.save</c> storage class.</summary>
    public static (int Size, DType DType) FromStorageName(string storage, string source) => storage switch
    {
        "FloatStorage" => (4, DType.Float32),
        "DoubleStorage" => (8, DType.Float32),
        "HalfStorage" => (2, DType.Float16),
        "BFloat16Storage" => (2, DType.BFloat16),
        "LongStorage" => (8, DType.Int64),
        "IntStorage" => (4, DType.Int32),
        "ShortStorage" => (2, DType.Int32),
        "CharStorage" => (1, DType.Int32),
        "ByteStorage" => (1, DType.Int32),
        "BoolStorage" => (1, DType.Bool),
        _ => throw new InvalidDataException($"{source}: tensors stored as {storage} cannot be imported (float, double, half, bfloat16, integer and bool storages can)."),
    };

    /// <summary>Storage name of a TorchSharp ScalarType code (torch's c10::ScalarType numbering).</summary>
    public static string StorageNameOfCode(int code, string source) => code switch
    {
        0 => "ByteStorage",
        1 => "CharStorage",
        2 => "ShortStorage",
        3 => "IntStorage",
        4 => "LongStorage",
        5 => "HalfStorage",
        6 => "FloatStorage",
        7 => "DoubleStorage",
        11 => "BoolStorage",
        15 => "BFloat16Storage",
        _ => throw new InvalidDataException($"{source}: TorchSharp scalar type {code} cannot be imported."),
    };

    /// <summary>
    /// Engine tensor from raw little-endian elements of <paramref name="storage"/>, converting the
    /// types the engine does not store (fp64, int8, uint8, int16).
    /// </summary>
    public static Tensor ToEngine(ReadOnlySpan<byte> bytes, int[] shape, string storage, string source)
    {
        (_, DType dtype) = FromStorageName(storage, source);
        switch (storage)
        {
            case "DoubleStorage":
                {
                    var values = new float[bytes.Length / 8];
                    for (int i = 0; i < values.Length; i++) values[i] = (float)BitConverter.ToDouble(bytes.Slice(i * 8, 8));
                    return Tensor.FromArray(values, shape);
                }
            case "ShortStorage":
                {
                    var values = new int[bytes.Length / 2];
                    for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToInt16(bytes.Slice(i * 2, 2));
                    return Tensor.FromArray(values, shape);
                }
            case "CharStorage":
                {
                    var values = new int[bytes.Length];
                    for (int i = 0; i < values.Length; i++) values[i] = (sbyte)bytes[i];
                    return Tensor.FromArray(values, shape);
                }
            case "ByteStorage":
                {
                    var values = new int[bytes.Length];
                    for (int i = 0; i < values.Length; i++) values[i] = bytes[i];
                    return Tensor.FromArray(values, shape);
                }
            default:
                return Tensor.FromBytes(bytes, shape, dtype);
        }
    }

    /// <summary>
    /// Engine shape from a PyTorch one, refusing dimensions the engine cannot index and element
    /// counts that overflow (65536^4 wraps to 0 in an unchecked product, which would make a tensor
    /// that claims 2^64 elements look empty and pass every size check).
    /// </summary>
    public static int[] Shape(long[] shape, string key, string source)
    {
        int[] result = shape.Select(d => d is >= 0 and <= int.MaxValue ? (int)d : throw new InvalidDataException($"{source}: tensor '{key}' has dimension {d}, outside what the engine supports.")).ToArray();
        long numel = 1;
        foreach (int d in result)
        {
            if (d != 0 && numel > (long.MaxValue / 8) / d)
                throw new InvalidDataException($"{source}: tensor '{key}' has shape [{string.Join(", ", shape)}], whose element count overflows.");
            numel *= d;
        }
        return result;
    }
}
