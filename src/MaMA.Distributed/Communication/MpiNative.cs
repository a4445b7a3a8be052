using System.Runtime.InteropServices;

namespace MaMA.Distributed.Communication;

/// <summary>
/// A thin binding of the Open MPI C library (libmpi.so.40, Debian's openmpi-bin / libopenmpi3):
/// the dozen entry points data parallelism uses, as unmanaged function pointers.
/// <para>
/// Why not the MPI.NET package: it is not in the NuGet registry this project can reach (checked
/// against the registry list), and its native side targets MS-MPI on Windows. Why RTLD_GLOBAL: Open
/// MPI loads its transports (mca_*.so) with dlopen and those plug-ins resolve libmpi's symbols
/// globally; .NET's own loader opens libraries RTLD_LOCAL, after which MPI_Init fails with
/// "undefined symbol" in a plug-in. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are the
/// addresses of exported globals (ompi_mpi_comm_world, ...), read with dlsym. MPICH and Intel MPI
/// use integer handles and a different library name: not supported by this binding.
/// </para>
/// </summary>
internal static unsafe class MpiNative
{
    private const int RtldNow = 2, RtldGlobal = 0x100;

    /// <summary>MPI_IN_PLACE of Open MPI ((void*)1).</summary>
    public static readonly void* InPlace = (void*)1;

    public const int ThreadSerialized = 2;

    public static nint Library { get; private set; }

    public static nint CommWorld, Float, Double, Int, LongLong, Byte, OpSum;

    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public static delegate* unmanaged<int*, int> Initialized;
    public static delegate* unmanaged<int*, int> Finalized;
    public static delegate* unmanaged<int> Finalize;
    public static delegate* unmanaged<nint, int, int> Abort;
    public static delegate* unmanaged<nint, int*, int> CommRank;
    public static delegate* unmanaged<nint, int*, int> CommSize;
    public static delegate* unmanaged<nint, nint*, int> CommDup;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public static delegate* unmanaged<nint*, void*, int> Wait;
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public static delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
    public static delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public static delegate* unmanaged<nint, int> Barrier;

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpen(string file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    private static extern nint DlError();

    private static readonly Lock s_gate = new();

    /// <summary>Opens the library once (MAMA_MPI_LIBRARY overrides the name) and resolves every symbol.</summary>
    public static void Load()
    {
        lock (s_gate)
        {
            if (Library != 0) return;
            if (!OperatingSystem.IsLinux())
                throw new PlatformNotSupportedException("MPI: the Open MPI binding is for Linux (libmpi.so.40).");
            string name = Environment.GetEnvironmentVariable("MAMA_MPI_LIBRARY") is { Length: > 0 } custom ? custom : "libmpi.so.40";
            nint handle = DlOpen(name, RtldNow | RtldGlobal);
            if (handle == 0)
            {
                string why = Marshal.PtrToStringUTF8(DlError()) ?? "unknown error";
                throw new DllNotFoundException($"MPI: cannot load {name} ({why}). Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or point MAMA_MPI_LIBRARY at libmpi.so.");
            }
            nint Sym(string symbol) => NativeLibrary.TryGetExport(handle, symbol, out nint address)
                ? address
                : throw new EntryPointNotFoundException($"MPI: {name} has no symbol '{symbol}'; this binding needs Open MPI 4 or 5 (MPICH-family libraries are not supported).");
            CommWorld = Sym("ompi_mpi_comm_world");
            Float = Sym("ompi_mpi_float");
            Double = Sym("ompi_mpi_double");
            Int = Sym("ompi_mpi_int");
            LongLong = Sym("ompi_mpi_long_long_int");
            Byte = Sym("ompi_mpi_byte");
            OpSum = Sym("ompi_mpi_op_sum");
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Sym("MPI_Init_thread");
            Initialized = (delegate* unmanaged<int*, int>)Sym("MPI_Initialized");
            Finalized = (delegate* unmanaged<int*, int>)Sym("MPI_Finalized");
            Finalize = (delegate* unmanaged<int>)Sym("MPI_Finalize");
            Abort = (delegate* unmanaged<nint, int, int>)Sym("MPI_Abort");
            CommRank = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_rank");
            CommSize = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_size");
            CommDup = (delegate* unmanaged<nint, nint*, int>)Sym("MPI_Comm_dup");
            Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Sym("MPI_Allreduce");
            Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Sym("MPI_Iallreduce");
            Wait = (delegate* unmanaged<nint*, void*, int>)Sym("MPI_Wait");
            Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Sym("MPI_Allgather");
            Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Sym("MPI_Allgatherv");
            Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Sym("MPI_Bcast");
            Barrier = (delegate* unmanaged<nint, int>)Sym("MPI_Barrier");
            Library = handle;
        }
    }

    /// <summary>The MPI datatype handle of <typeparamref name="T"/>.</summary>
    public static nint TypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? Float
        : typeof(T) == typeof(double) ? Double
        : typeof(T) == typeof(int) ? Int
        : typeof(T) == typeof(long) ? LongLong
        : typeof(T) == typeof(byte) ? Byte
        : throw new NotSupportedException($"MPI: no datatype for {typeof(T).Name} (float, double, int, long, byte).");

    /// <summary>Throws on a non-zero MPI return code (with the default handler MPI aborts first).</summary>
    public static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"MPI: {call} failed with error code {code}.");
    }
}
