using MaMA.Data.Embed;
using MaMA.Data.Labels;
using MaMA.Data.Tests.Embed;

namespace MaMA.Data.Tests.Labels;

/// <summary>
/// The one definition of the downstream tasks that zero-shot, probing and fine-tuning share: names
/// round-trip through the command line's parser, class counts are the paper's, and an EMBED image's
/// label per task is its BI-RADS category or density class (none for density 5).
/// </summary>
[TestFixture]
public sealed class DownstreamTaskTests
{
    [Test]
    public void Names_RoundTrip_AndAliasesParse()
    {
        foreach (DownstreamTask task in Enum.GetValues<DownstreamTask>())
            Assert.That(DownstreamTasks.Parse(task.Name()), Is.EqualTo(task));
        Assert.That(Enum.GetValues<DownstreamTask>().Select(t => t.Name()), Is.EqualTo(new[] { "birads", "density", "rsna" }));
        Assert.That((DownstreamTasks.Parse(" BI-RADS "), DownstreamTasks.Parse("Cancer")), Is.EqualTo(((DownstreamTask?)DownstreamTask.Birads, (DownstreamTask?)DownstreamTask.Rsna)));
        Assert.That((DownstreamTasks.Parse("mass"), DownstreamTasks.Parse(null)), Is.EqualTo(((DownstreamTask?)null, (DownstreamTask?)null)));
    }

    [Test]
    public void ClassCounts_AreThePapers()
    {
        Assert.That(Enum.GetValues<DownstreamTask>().Select(t => t.ClassCount()), Is.EqualTo(new[] { 7, 4, 2 }));
        Assert.That(Enum.GetValues<DownstreamTask>().Select(t => t.IsEmbed()), Is.EqualTo(new[] { true, true, false }));
    }

    [Test]
    public void EmbedLabels_AreBiradsAndDensityClass()
    {
        using var f = new EmbedTestFolder();
        f.Image("a.png", "P1", "S1", "L").Finding("S1", "L", "S", density: "3")
         .Image("b.png", "P2", "S2", "R").Finding("S2", "R", "N", density: "5");
        EmbedRecord[] r = f.Load().Records.OrderBy(x => x.Patient, StringComparer.Ordinal).ToArray();
        Assert.That((DownstreamTask.Birads.EmbedLabel(r[0]), DownstreamTask.Density.EmbedLabel(r[0])), Is.EqualTo(((int?)4, (int?)2)));
        Assert.That((DownstreamTask.Birads.EmbedLabel(r[1]), DownstreamTask.Density.EmbedLabel(r[1])), Is.EqualTo(((int?)1, (int?)null)),
            "density 5 (normal male dense) is not a class");
        Assert.That(() => DownstreamTask.Rsna.EmbedLabel(r[0]), Throws.ArgumentException.With.Message.Contains("RSNA-Mammo"));
    }
}
