namespace MaMA.Data.Loading;

/// <summary>
/// One image of a classification task (linear probing, fine-tuning): its file and its 0-based class
/// (BI-RADS 0-6, density 0-3, RSNA cancer 0-1).
/// </summary>
/// <param name="Path">The image file (PNG, JPEG or DICOM), absolute.</param>
/// <param name="Label">The class index.</param>
public sealed record LabelledImage(string Path, int Label);
