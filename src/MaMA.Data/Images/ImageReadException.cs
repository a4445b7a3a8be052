namespace MaMA.Data.Images;

/// <summary>
/// An image or DICOM file that cannot be read: truncated, corrupt, too large, or in an unsupported
/// encoding. The message always starts with the file's path. An <see cref="IOException"/>
/// (<see cref="InvalidDataException"/> is sealed), so the command line prints it as one line and exits 1.
/// </summary>
public sealed class ImageReadException : IOException
{
    public ImageReadException(string path, string reason, Exception? inner = null)
        : base($"{path}: {reason}", inner)
    {
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The file that failed.</summary>
    public string FilePath { get; }

    /// <summary>Why, without the path.</summary>
    public string Reason { get; }
}
