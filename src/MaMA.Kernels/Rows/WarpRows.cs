using ILGPU;
using ILGPU.Runtime;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Rows;

/// <summary>
/// What the warp-per-row kernels share (layer norm, the attention softmax rows): one 32-lane warp
/// per row, eight warps per group, lanes striding the row in coalesced 128-byte steps and combining
/// their partial results with butterfly shuffles, so every lane ends with the row's value.
/// <code>
/// grid ceil(rows / 8), group 256 threads = 8 warps; warp w of group g owns row 8 g + w
/// </code>
/// On the ILGPU CPU simulator (warp size 4) the kernels run on its 32-lane companion
/// (<see cref="WarpSimulator"/>).
/// </summary>
public static class WarpRows
{
    public const int WarpSize = 32, WarpsPerGroup = 8, Threads = WarpSize * WarpsPerGroup;

    /// <summary>This thread's lane in its warp (device code).</summary>
    public static int Lane() => Group.IdxX & (WarpSize - 1);

    /// <summary>The row this thread's warp owns (device code); a warp whose row is past the end leaves as a whole.</summary>
    public static int Row() => Grid.IdxX * WarpsPerGroup + (Group.IdxX >> 5);

    /// <summary>The sum of <paramref name="v"/> over the warp's 32 lanes, on every lane (five butterfly shuffles).</summary>
    public static float Sum(float v)
    {
        v += Warp.ShuffleXor(v, 16);
        v += Warp.ShuffleXor(v, 8);
        v += Warp.ShuffleXor(v, 4);
        v += Warp.ShuffleXor(v, 2);
        return v + Warp.ShuffleXor(v, 1);
    }

    /// <summary>The maximum of <paramref name="v"/> over the warp's 32 lanes, on every lane (five butterfly shuffles).</summary>
    public static float Max(float v)
    {
        v = XMax(v, Warp.ShuffleXor(v, 16));
        v = XMax(v, Warp.ShuffleXor(v, 8));
        v = XMax(v, Warp.ShuffleXor(v, 4));
        v = XMax(v, Warp.ShuffleXor(v, 2));
        return XMax(v, Warp.ShuffleXor(v, 1));
    }

    private static float XMax(float a, float b) => a > b ? a : b;

    /// <summary>
    /// Runs <paramref name="launch"/> (given the accelerator to load on, the stream and the grid for
    /// <paramref name="rows"/> rows) on the stream's accelerator, or on the simulator's 32-lane
    /// companion, synchronising around it (CPU launches are synchronous anyway).
    /// </summary>
    public static void Run(AcceleratorStream stream, int rows, Action<Accelerator, AcceleratorStream, KernelConfig> launch)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (rows <= 0) return;
        var config = new KernelConfig(new Index3D((rows + WarpsPerGroup - 1) / WarpsPerGroup, 1, 1), new Index3D(Threads, 1, 1));
        Accelerator target = WarpSimulator.For(stream.Accelerator);
        if (ReferenceEquals(target, stream.Accelerator))
        {
            launch(target, stream, config);
            return;
        }
        stream.Synchronize();
        launch(target, target.DefaultStream, config);
        target.DefaultStream.Synchronize();
    }
}
