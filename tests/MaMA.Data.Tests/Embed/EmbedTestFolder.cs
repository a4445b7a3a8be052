using MaMA.Data.Embed;
using MaMA.Data.Tables;

namespace MaMA.Data.Tests.Embed;

/// <summary>Writes a small EMBED-shaped folder (the three tables) under a temporary directory.</summary>
internal sealed class EmbedTestFolder : IDisposable
{
    public EmbedTestFolder()
    {
        Dir = Path.Combine(Path.GetTempPath(), "mama-embed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(Dir, "tables"));
    }

    public string Dir { get; }

    public List<string[]> Metadata { get; } = new();
    public List<string[]> Clinical { get; } = new();

    public List<string[]> Legend { get; } =
    [
        ["massshape", "O", "oval"],
        ["massshape", "X", "irregular"],
        ["massdens", "+", "high density"],
        ["massdens", "=", "equal density"],
        ["calcfind", "9", "fine pleomorphic"],
        ["calcfind", "P", "punctate"],
        ["calcdistri", "S", "segmental"],
        ["calcdistri", "G", "grouped"],
    ];

    /// <summary>Adds a metadata row: path, patient, study, laterality, view, image type, procedure.</summary>
    public EmbedTestFolder Image(string path, string patient, string study, string laterality, string view = "CC", string type = "2D", string procedure = "MG Screening Bilateral")
    {
        Metadata.Add([path, patient, study, laterality, view, type, procedure]);
        return this;
    }

    /// <summary>Adds a clinical row.</summary>
    public EmbedTestFolder Finding(string study, string side, string asses, string density = "2", string age = "57.8", string race = "White",
        string ethnic = "Non-Hispanic or Latino", string massshape = "", string massdens = "", string calcfind = "", string calcdistri = "")
    {
        Clinical.Add([study, side, asses, density, age, race, ethnic, massshape, massdens, calcfind, calcdistri]);
        return this;
    }

    public void Write()
    {
        CsvWriter.WriteFile(Path.Combine(Dir, "tables", "EMBED_OpenData_metadata.csv"), EmbedColumns.MetadataRequired, Metadata);
        CsvWriter.WriteFile(Path.Combine(Dir, "tables", "EMBED_OpenData_clinical.csv"), EmbedColumns.ClinicalRequired, Clinical);
        CsvWriter.WriteFile(Path.Combine(Dir, "tables", "AWS_Open_Data_Clinical_Legend.csv"), EmbedColumns.LegendRequired, Legend);
    }

    public EmbedDataset Load(EmbedOptions? options = null)
    {
        Write();
        return EmbedDataset.Load(Dir, options);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
