using MaMA.Generators.Tests.Infrastructure;

namespace MaMA.Generators.Tests.Generation;

/// <summary>
/// [DeviceFunction] helpers with view parameters: ILGPU calls the declared helper, the CPU path a
/// generated pointer twin inside the host type; passing a view to a plain helper stays MAMA0005.
/// </summary>
[TestFixture]
public sealed class DeviceFunctionTests
{
    public const string GatherSource = """
        using ILGPU;
        using MaMA.Kernels;

        namespace Sample.Kernels;

        public static partial class Gather
        {
            /// <summary>dst[i] = src[stride * i + offset], through a helper that reads the view.</summary>
            [Kernel]
            private static void StridedKernel(int i, ArrayView<float> src, [Extent("count")] ArrayView<float> dst, int stride, int offset)
            {
                dst[i] = Read(src, (long)stride * i + offset);
            }

            [DeviceFunction]
            private static float Read(ArrayView<float> view, long index) => view[index];
        }
        """;

    [Test]
    public void TwinIsEmittedInsideTheHostAndMatchesExpectedFile()
    {
        GeneratorRun run = GeneratorHarness.Run(GatherSource);
        Assert.That(run.GeneratorDiagnostics, Is.Empty, GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.OutputErrors, Is.Empty, GeneratorHarness.Describe(run.OutputErrors));
        ExpectedFiles.AssertMatches("Sample.Kernels.Gather.Strided.g.cs", run.Source("Sample.Kernels.Gather.Strided.g.cs").Text);
    }

    [Test]
    public void ViewPassedToAPlainHelperIsStillMama0005()
    {
        string source = GatherSource.Replace("[DeviceFunction]", "");
        GeneratorRun run = GeneratorHarness.Run(source);
        Assert.That(run.GeneratorDiagnostics.Select(d => d.Id), Is.EqualTo(new[] { "MAMA0005" }));
        Assert.That(run.Sources, Is.Empty);
    }

    [Test]
    public void DeviceFunctionMisusingItsViewIsReported()
    {
        string source = GatherSource.Replace("=> view[index];", "=> view.Length > index ? view[index] : 0f;");
        GeneratorRun run = GeneratorHarness.Run(source);
        Assert.That(run.GeneratorDiagnostics.Select(d => d.Id), Is.EqualTo(new[] { "MAMA0005" }));
        Assert.That(run.GeneratorDiagnostics[0].GetMessage(), Does.Contain("'view'").And.Contain("'Read'"));
    }
}
