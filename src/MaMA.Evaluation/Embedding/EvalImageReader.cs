using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;

namespace MaMA.Evaluation.Embedding;

/// <summary>An image that could not be used, and why (the reader's message without the path).</summary>
public sealed record ImageFailure(string Path, string Reason);

/// <summary>The pixels of the readable images of one batch: [Kept.Count, 3, S, S] floats, row-major.</summary>
/// <param name="Pixels">Normalised CHW pixels of the kept images, back to back.</param>
/// <param name="Kept">Positions (in the batch) of the images whose pixels are in <paramref name="Pixels"/>, ascending.</param>
/// <param name="Failed">Images that could not be read, in batch order.</param>
public sealed record EvalImageBatch(float[] Pixels, int[] Kept, IReadOnlyList<ImageFailure> Failed);

/// <summary>
/// Reads a batch of image files (DICOM, PNG, JPEG) through the evaluation transform, in parallel.
/// A file that cannot be read or transformed is a failure of its own, never an exception: callers
/// count it, name it in their output and go on with the rest.
/// </summary>
public static class EvalImageReader
{
    /// <summary>Reads <paramref name="paths"/> with <paramref name="transform"/>'s evaluation path (one 3 x S x S block per kept image).</summary>
    public static EvalImageBatch Read(IReadOnlyList<string> paths, MammoTransform transform, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(transform);
        int length = transform.OutputLength;
        var pixels = new float[paths.Count][];
        var errors = new string?[paths.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount };
        Parallel.For(0, paths.Count, options, i =>
        {
            try
            {
                pixels[i] = transform.Eval(ImageReader.ReadGrey8(paths[i]));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                errors[i] = Reason(paths[i], e);
            }
        });
        int[] kept = Enumerable.Range(0, paths.Count).Where(i => errors[i] is null).ToArray();
        var flat = new float[checked(kept.Length * length)];
        for (int k = 0; k < kept.Length; k++) pixels[kept[k]].CopyTo(flat, k * length);
        ImageFailure[] failed = Enumerable.Range(0, paths.Count).Where(i => errors[i] is not null).Select(i => new ImageFailure(paths[i], errors[i]!)).ToArray();
        return new EvalImageBatch(flat, kept, failed);
    }

    /// <summary>Reads one image for display and for the model: the 8-bit evaluation crop (S x S) and its pixels [3, S, S].</summary>
    public static (GreyImage Crop, float[] Pixels) ReadOne(string path, MammoTransform transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        GreyImage crop = transform.EvalImage(ImageReader.ReadGrey8(path));
        return (crop, TensorConversion.ToChw3(crop, transform.Options.Mean, transform.Options.Std));
    }

    private static string Reason(string path, Exception e) => e switch
    {
        ImageReadException r => r.Reason,
        FileNotFoundException => "file not found",
        DirectoryNotFoundException => "folder not found",
        _ => e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message[path.Length..].TrimStart(':', ' ') : e.Message,
    };
}
