namespace MaMA.Interop.Torch.Import;

/// <summary>
/// One storage of a <c>torch.save</c> archive: the entry <c>data/{Key}</c> holding <paramref name="Numel"/>
/// elements of <paramref name="ScalarType"/> (the storage class's name, e.g. "FloatStorage").
/// </summary>
public sealed record TorchStorageRef(string Key, string ScalarType, long Numel);

/// <summary>
/// A tensor as <c>torch._utils._rebuild_tensor_v2</c> describes it: a view (element offset, shape,
/// strides) of a storage. Nothing is read until the importer asks for it.
/// </summary>
public sealed record TorchTensorRef(TorchStorageRef Storage, long Offset, long[] Shape, long[] Stride);
