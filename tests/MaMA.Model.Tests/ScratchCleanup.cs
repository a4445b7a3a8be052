using MaMA.Tests.Shared;
using NUnit.Framework.Interfaces;

namespace MaMA.Model.Tests;

/// <summary>Deletes this run's scratch folders when the assembly's tests end; keeps them when a test failed (<see cref="ScratchRun"/>).</summary>
[SetUpFixture]
public sealed class ScratchCleanup
{
    [OneTimeTearDown]
    public void DeleteScratch() =>
        ScratchRun.Finish(keep: TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed);
}
