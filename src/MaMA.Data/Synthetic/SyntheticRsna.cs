using System.Globalization;
using MaMA.Data.Rsna;
using MaMA.Data.Tables;

namespace MaMA.Data.Synthetic;

/// <summary>What <see cref="SyntheticRsna.Write"/> wrote.</summary>
public sealed record SyntheticRsnaSummary(string Directory, int Images, int Patients, int Cancer);

/// <summary>
/// An RSNA-Mammo-shaped view of the synthetic dataset, so the cancer task (zero-shot, probing,
/// fine-tuning) runs without the restricted data: <c>train.csv</c> (patient_id, image_id,
/// laterality, view, cancer) and <c>train_images/{patient_id}/{image_id}.png</c>, copies of the
/// synthetic mammograms that have a BI-RADS label. Cancer is 1 for BI-RADS M and K (5, "highly
/// suggestive of malignancy", and 6, "known biopsy-proven malignancy"), whose phantoms carry the
/// irregular, spiculated masses (SynthPlan), and 0 otherwise. Images are copied first and the
/// table written last, so a folder with <c>train.csv</c> is complete.
/// </summary>
public static class SyntheticRsna
{
    /// <summary>The BI-RADS numbers (0-6) that count as cancer: M and K.</summary>
    public static bool IsCancer(int birads) => birads >= 5;

    public static SyntheticRsnaSummary Write(SynthSummary embed, string dir)
    {
        ArgumentNullException.ThrowIfNull(embed);
        string root = Path.GetFullPath(dir);
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
            throw new IOException($"{root} is not empty; the RSNA view is written into an empty folder.");
        var rows = new List<IReadOnlyList<string>>();
        int imageId = 0;
        foreach (SynthImage image in embed.Images.Where(i => i.ImageType == "2D" && i.Birads is not null))
        {
            string patient = image.Patient.ToString(CultureInfo.InvariantCulture), id = (++imageId).ToString(CultureInfo.InvariantCulture);
            string target = Path.Combine(root, DatasetLayout.RsnaImagesFolder, patient, id + ".png");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(embed.Directory, image.RelativePath), target);
            rows.Add([patient, id, image.Laterality, image.View, IsCancer(image.Birads!.Value) ? "1" : "0"]);
        }
        CsvWriter.WriteFile(Path.Combine(root, DatasetLayout.RsnaTrainCsv), RsnaDataset.RequiredColumns, rows);
        return new SyntheticRsnaSummary(root, rows.Count, rows.Select(r => r[0]).Distinct().Count(), rows.Count(r => r[4] == "1"));
    }
}
