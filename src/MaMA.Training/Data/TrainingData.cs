using MaMA.Data;
using MaMA.Data.Embed;
using MaMA.Data.Splits;
using MaMA.Data.Synthetic;

namespace MaMA.Training.Data;

/// <summary>
/// The records a run trains and evaluates on: an EMBED-shaped folder (docs/data.md), split 70/10/20
/// by patient with the split file created on first use, or, when no folder is given, the built-in
/// synthetic dataset written once into <c>syntheticDir</c> (deterministic in its options, so a
/// resumed run reads the same images).
/// </summary>
public sealed class TrainingData
{
    private TrainingData(string directory, EmbedDataset dataset, PatientSplits splits)
    {
        Directory = directory;
        Dataset = dataset;
        Train = dataset.InSplit(splits, DataSplit.Train);
        Valid = dataset.InSplit(splits, DataSplit.Valid);
        Test = dataset.InSplit(splits, DataSplit.Test);
    }

    public string Directory { get; }

    public EmbedDataset Dataset { get; }

    public IReadOnlyList<EmbedRecord> Train { get; }

    public IReadOnlyList<EmbedRecord> Valid { get; }

    public IReadOnlyList<EmbedRecord> Test { get; }

    /// <summary>Loads <paramref name="dataDir"/>, or writes/reuses the synthetic dataset in <paramref name="syntheticDir"/> when it is null.</summary>
    public static TrainingData Open(string? dataDir, string syntheticDir, int syntheticStudies, int syntheticWidth, ulong seed, ulong splitSeed, Action<string>? say = null)
    {
        string dir;
        if (dataDir is not null)
        {
            dir = Path.GetFullPath(dataDir);
            if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"data folder '{dir}' does not exist (expected an EMBED-shaped folder, see docs/data.md).");
        }
        else
        {
            dir = Path.GetFullPath(syntheticDir);
            // The metadata table is written last, so its presence means a complete dataset.
            if (!File.Exists(Path.Combine(dir, DatasetLayout.MetadataCsv)))
            {
                say?.Invoke($"writing the synthetic dataset ({syntheticStudies} studies, {syntheticWidth} px wide) to {dir}");
                SyntheticEmbed.Write(dir, new SynthOptions
                {
                    Studies = syntheticStudies, Seed = unchecked((int)seed), Width = syntheticWidth, Height = syntheticWidth * 5 / 4, Force = true,
                });
            }
        }
        EmbedDataset dataset = EmbedDataset.Load(dir, new EmbedOptions());
        if (dataset.Records.Count == 0) throw new InvalidDataException($"{dir}: no usable images ({dataset.Summary}).");
        PatientSplits splits = dataset.LoadOrCreateSplits(seed: splitSeed);
        return new TrainingData(dir, dataset, splits);
    }
}
