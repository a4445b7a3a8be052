namespace MaMA.Data;

/// <summary>Where EMBED-shaped and RSNA-Mammo datasets keep their files (relative to the dataset folder).</summary>
public static class DatasetLayout
{
    public const string TablesFolder = "tables";
    public const string MetadataCsv = "tables/EMBED_OpenData_metadata.csv";
    public const string ClinicalCsv = "tables/EMBED_OpenData_clinical.csv";
    public const string LegendCsv = "tables/AWS_Open_Data_Clinical_Legend.csv";

    /// <summary>Images of an EMBED-shaped dataset.</summary>
    public const string ImagesFolder = "images";

    /// <summary>Where the published EMBED tables say the images are; rewritten to <see cref="ImagesFolder"/> by default.</summary>
    public const string EmbedSourcePrefix = "/mnt/NAS2/mammo/anon_dicom/";

    /// <summary>Default patient-level split file (<c>empi_anon,split</c>).</summary>
    public const string SplitsCsv = "splits.csv";

    /// <summary>RSNA-Mammo: the table and the image folder (<c>{patient_id}/{image_id}.{png|jpg|dcm}</c>).</summary>
    public const string RsnaTrainCsv = "train.csv";
    public const string RsnaImagesFolder = "train_images";
}
