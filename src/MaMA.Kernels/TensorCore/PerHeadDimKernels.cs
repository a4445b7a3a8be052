using ILGPU.Runtime;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// The loaded instantiations of a per-head-size kernel (<see cref="IHeadDim"/>): one per accelerator
/// and head size, loaded on first use and opted into the shared memory of its launch
/// (<see cref="DynamicSharedMemory.AllowUpToLimit"/>). Shared by the tensor-core attention forward and backward.
/// </summary>
internal sealed class PerHeadDimKernels<TLauncher>(Func<Accelerator, int, TLauncher> load, Func<int, int> sharedElements)
    where TLauncher : Delegate
{
    private readonly Dictionary<(Accelerator, int), TLauncher> _kernels = new();

    public TLauncher For(Accelerator accelerator, int headDim)
    {
        lock (_kernels)
        {
            if (!_kernels.TryGetValue((accelerator, headDim), out TLauncher? kernel))
            {
                kernel = load(accelerator, headDim);
                DynamicSharedMemory.AllowUpToLimit(kernel, accelerator, sharedElements(headDim));
                _kernels[(accelerator, headDim)] = kernel;
            }
            return kernel;
        }
    }
}
