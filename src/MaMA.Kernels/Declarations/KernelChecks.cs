namespace MaMA.Kernels;

/// <summary>Argument validation used by generated launchers.</summary>
public static class KernelChecks
{
    public static void Count(string kernel, long count)
    {
        if (count < 0 || count > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(count), $"{kernel}: launch size {count} is outside [0, {int.MaxValue}].");
    }

    public static void Extent(string kernel, string parameter, long length, long required, string expression)
    {
        if (length < required)
            throw new ArgumentException(
                $"{kernel}: view '{parameter}' has {length} elements but needs at least {required} ({expression}).", parameter);
    }
}
