namespace MaMA.Reliability.Tests.Support;

/// <summary>Assertions on an <see cref="Outcome"/>: the exact error type, a message substring, and an allocation bound.</summary>
internal static class Expect
{
    /// <summary>Default allocation bound for a rejected input: generous for parsing, far below what a declared huge size would cost.</summary>
    public const long SmallAllocation = 64L << 20;

    public static T Error<T>(Outcome outcome, string messagePart, long maxAllocatedBytes = SmallAllocation) where T : Exception
    {
        Assert.That(outcome.Error, Is.Not.Null, $"expected {typeof(T).Name} containing \"{messagePart}\", but the read succeeded.");
        Assert.That(outcome.Error, Is.TypeOf<T>(), $"wrong exception type; message: {outcome.Error!.Message}\n{outcome.Error.StackTrace}");
        Assert.That(outcome.Error!.Message, Does.Contain(messagePart));
        Allocation(outcome, maxAllocatedBytes);
        return (T)outcome.Error;
    }

    public static void Allocation(Outcome outcome, long maxAllocatedBytes)
    {
        Assert.That(outcome.AllocatedBytes, Is.LessThanOrEqualTo(maxAllocatedBytes),
            $"the reader allocated {outcome.AllocatedBytes:N0} bytes (bound {maxAllocatedBytes:N0}).");
    }

    public static T Success<T>(Outcome outcome)
    {
        Assert.That(outcome.Error, Is.Null, () => $"expected success, got {outcome.Error!.GetType().Name}: {outcome.Error.Message}\n{outcome.Error.StackTrace}");
        return (T)outcome.Result!;
    }
}
