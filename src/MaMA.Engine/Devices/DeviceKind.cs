namespace MaMA.Engine.Devices;

/// <summary>Where tensors live and kernels run.</summary>
public enum DeviceKind
{
    /// <summary>Fast CPU backend: SIMD (System.Numerics.Tensors / Vector) and all cores.</summary>
    Cpu,

    /// <summary>NVIDIA GPU through ILGPU's PTX backend.</summary>
    Cuda,

    /// <summary>OpenCL GPU through ILGPU.</summary>
    OpenCL,

    /// <summary>ILGPU's CPU accelerator: runs the GPU kernels thread by thread, for verification.</summary>
    IlgpuCpu,
}
