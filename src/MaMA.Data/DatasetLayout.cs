namespace MaMA.Data;

/// <summary>Where EMBED-shaped datasets keep their tables (relative to the dataset folder).</summary>
public static class DatasetLayout
{
    public const string TablesFolder = "tables";
    public const string MetadataCsv = "tables/EMBED_OpenData_metadata.csv";
    public const string ClinicalCsv = "tables/EMBED_OpenData_clinical.csv";
    public const string LegendCsv = "tables/AWS_Open_Data_Clinical_Legend.csv";
}
