using MaMA.Data.Reports;

namespace MaMA.Data.Embed;

/// <summary>One kept 2D image of an EMBED-shaped dataset, its labels and its (unmasked) structured report.</summary>
public sealed record EmbedRecord
{
    /// <summary>Position in <see cref="EmbedDataset.Records"/>; the sample index for masking draws.</summary>
    public required int Index { get; init; }

    /// <summary>The image path after the prefix rewrite, absolute.</summary>
    public required string Path { get; init; }

    /// <summary><c>anon_dicom_path</c> as written.</summary>
    public required string SourcePath { get; init; }

    /// <summary><c>acc_anon</c>.</summary>
    public required string Study { get; init; }

    /// <summary><c>empi_anon</c>.</summary>
    public required string Patient { get; init; }

    /// <summary><c>ImageLateralityFinal</c> as written (L, R, ...; empty when missing).</summary>
    public required string Laterality { get; init; }

    /// <summary><c>ViewPosition</c> as written (CC, MLO, ...; empty when missing).</summary>
    public required string View { get; init; }

    /// <summary>BI-RADS category 0-6 (the 7-class label, order A N B P S M K).</summary>
    public required int Birads { get; init; }

    /// <summary>Density 1-5 as in the report.</summary>
    public required int Density { get; init; }

    /// <summary>Density class 1-4, or null for 5 ("normal male dense", not a class).</summary>
    public int? DensityClass => Density is >= 1 and <= 4 ? Density : null;

    /// <summary>Density as a 0-based class index 0-3, or null.</summary>
    public int? DensityLabel => DensityClass - 1;

    /// <summary>The assessment letter (A N B P S M K).</summary>
    public char Assessment => ReportVocabulary.LetterOf(Birads);

    /// <summary>The report's values; rebuild with <see cref="MetaMasking"/> for training.</summary>
    public required ReportFields Fields { get; init; }

    /// <summary>The unmasked report.</summary>
    public required StructuredReport Report { get; init; }

    /// <summary>1-based lines of the metadata row and of the chosen clinical row.</summary>
    public required int MetadataLine { get; init; }
    public required int ClinicalLine { get; init; }
}
