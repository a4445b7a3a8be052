namespace MaMA.Engine.Tensors;

/// <summary>
/// Element types the engine stores. Compute is fp32 (fp32 accumulation everywhere); bf16 and fp16
/// are storage formats kept as 16-bit patterns (ILGPU has no bfloat16 type).
/// </summary>
public enum DType
{
    Float32,
    BFloat16,
    Float16,
    Int32,
    Int64,
    Bool,
}

public static class DTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.BFloat16 or DType.Float16 => 2,
        DType.Int64 => 8,
        DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static bool IsFloating(this DType dtype) => dtype is DType.Float32 or DType.BFloat16 or DType.Float16;

    /// <summary>The safetensors / PyTorch spelling ("F32", "BF16", ...).</summary>
    public static string SafetensorsName(this DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.BFloat16 => "BF16",
        DType.Float16 => "F16",
        DType.Int32 => "I32",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static DType FromSafetensorsName(string name) => name switch
    {
        "F32" => DType.Float32,
        "BF16" => DType.BFloat16,
        "F16" => DType.Float16,
        "I32" => DType.Int32,
        "I64" => DType.Int64,
        "BOOL" => DType.Bool,
        _ => throw new NotSupportedException($"dtype '{name}' is not supported (F32, BF16, F16, I32, I64, BOOL are)."),
    };

    /// <summary>The CLR type that holds one element (16-bit floats as their raw bits).</summary>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(int) ? DType.Int32 :
        typeof(T) == typeof(long) ? DType.Int64 :
        typeof(T) == typeof(bool) ? DType.Bool :
        typeof(T) == typeof(Half) ? DType.Float16 :
        throw new NotSupportedException($"No engine dtype for {typeof(T).Name}; use BFloat16 bits through Tensor.To(DType.BFloat16).");
}
