namespace MaMA.Training.Runs;

/// <summary>
/// One trainer per output folder: <c>FOLDER/.lock</c> held open exclusively while a run trains (an
/// advisory lock the OS drops when the process dies, so a killed run never leaves it held). A second
/// <c>mama pretrain</c>, <c>probe</c> or <c>finetune</c> on the same folder, e.g. a <c>--resume</c>
/// started while the first is still running, fails at once instead of interleaving both runs'
/// metrics and checkpoints.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream _stream;

    private RunLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock of <paramref name="folder"/> or throws <see cref="InvalidOperationException"/> naming the folder.</summary>
    public static RunLock Acquire(string folder)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, ".lock");
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            stream.Write(System.Text.Encoding.UTF8.GetBytes($"{Environment.ProcessId}\n"));
            stream.Flush();
            return new RunLock(stream);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"{Path.GetFullPath(folder)} is in use by another run ({e.Message.TrimEnd('.')}); wait for it to end or stop it before resuming.", e);
        }
    }

    public void Dispose() => _stream.Dispose();
}
