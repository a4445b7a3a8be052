using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TorchSharp;

namespace MaMA.Engine.Tests.Interop;

/// <summary>
/// Proves that libtorch loads through TorchSharp in this test's output folder, and that the
/// build patched libLibTorchSharp.so where the system libstdc++ lacks GLIBCXX_3.4.32
/// (build/TorchSharp.Debian12.targets, docs/libtorch-on-debian12.md).
/// </summary>
[TestFixture]
public sealed partial class LibTorchLoadTests
{
    private const string ShimName = "libmama_iosinit.so";

    [Test]
    public void LibTorchLoadsAndMultipliesMatrices()
    {
        Assert.That(torch.TryInitializeDeviceType(DeviceType.CPU), Is.True, "libtorch did not initialise the CPU device");
        Assert.That(torch.__version__, Does.Match(@"^\d+\.\d+"), "torch.__version__");

        using var a = torch.tensor(new double[] { 1, 2, 3, 4, 5, 6 }, new long[] { 2, 3 });
        using var b = torch.tensor(new double[] { 7, 8, 9, 10, 11, 12 }, new long[] { 3, 2 });
        using var product = torch.matmul(a, b);

        Assert.That(product.shape, Is.EqualTo(new long[] { 2, 2 }));
        // [[1 2 3] [4 5 6]] x [[7 8] [9 10] [11 12]] = [[58 64] [139 154]], exact in float64.
        Assert.That(product.data<double>().ToArray(), Is.EqualTo(new double[] { 58, 64, 139, 154 }));
    }

    [Test]
    public void OutputLibLibTorchSharpIsPatchedWhereSystemLibStdCxxLacksGlibcxx3432()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
        {
            Assert.Ignore("The patch applies to linux-x64 only.");
        }

        if (SystemLibStdCxxHasGlibcxx3432())
        {
            Assert.Ignore("The system libstdc++ provides GLIBCXX_3.4.32; libLibTorchSharp.so needs no patch here.");
        }

        string nativeDir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        string library = Path.Combine(nativeDir, "libLibTorchSharp.so");
        Assert.That(library, Does.Exist);

        string versions = Readelf("-V", "-W", library);
        string dynamic = Readelf("-d", "-W", library);
        string symbols = Readelf("--dyn-syms", "-W", library);

        Assert.Multiple(() =>
        {
            Assert.That(versions, Does.Match(@"Name:\s+GLIBCXX_3\.4\.32\s+Flags:\s+WEAK\b"),
                "the GLIBCXX_3.4.32 version need is not weak");
            Assert.That(symbols, Does.Match(@"(?m)\sUND\s+_ZSt21ios_base_library_initv\s*$"),
                "_ZSt21ios_base_library_initv still carries a symbol version");
            Assert.That(dynamic, Does.Match(@"\(NEEDED\)\s+Shared library: \[" + Regex.Escape(ShimName) + @"\]"),
                "no DT_NEEDED entry for the shim");
            Assert.That(dynamic, Does.Match(@"\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\]"),
                "DT_RUNPATH is not $ORIGIN");
            Assert.That(Path.Combine(nativeDir, ShimName), Does.Exist, "the shim is not next to the library");
        });

        // The patched library is the one this process loaded: its new DT_NEEDED pulled in the shim.
        // (/proc/self/maps shows resolved paths, so match the file name only.)
        Assert.That(torch.TryInitializeDeviceType(DeviceType.CPU), Is.True);
        string maps = File.ReadAllText("/proc/self/maps");
        Assert.That(maps, Does.Contain("/" + ShimName), "the shim was not loaded with libLibTorchSharp.so");
    }

    private static bool SystemLibStdCxxHasGlibcxx3432()
    {
        // NativeLibrary handles are dlopen handles on Linux.
        nint handle = NativeLibrary.Load("libstdc++.so.6");
        try
        {
            return DlVSym(handle, "_ZSt21ios_base_library_initv", "GLIBCXX_3.4.32") != 0;
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "dlvsym", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlVSym(nint handle, string symbol, string version);

    private static string Readelf(params string[] arguments)
    {
        var start = new ProcessStartInfo("readelf")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("readelf did not start");
        }
        catch (Win32Exception exception)
        {
            Assert.Fail($"readelf could not be started ({exception.Message}); install binutils (it comes with g++).");
            throw;
        }

        using (process)
        {
            Task<string> error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.That(process.ExitCode, Is.Zero, $"readelf {string.Join(' ', arguments)} failed: {error.Result}");
            return output;
        }
    }
}
