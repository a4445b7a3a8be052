namespace MaMA.Data.Tests;

[TestFixture]
public sealed class DatasetLayoutTests
{
    [Test]
    public void TablesLiveUnderTables() => Assert.That(MaMA.Data.DatasetLayout.MetadataCsv, Does.StartWith(MaMA.Data.DatasetLayout.TablesFolder + "/"));
}
