using System.Runtime.CompilerServices;
using MaMA.Engine.Memory;

namespace MaMA.Engine.Tests.Core;

/// <summary>The caching allocator's cap (MAMA_DEVICE_MEMORY_LIMIT) and its collection before growing.</summary>
[TestFixture]
public sealed class DeviceMemoryLimitTests
{
    [TestCase("65536", 65536L)]
    [TestCase("512MB", 512L << 20)]
    [TestCase("512M", 512L << 20)]
    [TestCase("1.5GiB", 3L << 29)]
    [TestCase(" 4k ", 4096L)]
    [TestCase("2T", 2L << 40)]
    public void ParsesSizes(string text, long bytes) => Assert.That(DeviceMemoryLimit.Parse(text), Is.EqualTo(bytes));

    [TestCase(null)]
    [TestCase("")]
    [TestCase("  ")]
    public void UnsetIsNoLimit(string? text) => Assert.That(DeviceMemoryLimit.Parse(text), Is.Null);

    [TestCase("lots")]
    [TestCase("-5MB")]
    [TestCase("0")]
    [TestCase("MB")]
    [TestCase("9999999T")]
    public void RefusesWhatIsNotASize(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceMemoryLimit.Parse(text))!;
        Assert.That(e.Message, Does.Contain($"MAMA_DEVICE_MEMORY_LIMIT='{text}' is not a memory size"));
    }

    [TestCase(512L, "512 B")]
    [TestCase(1536L, "1.5 KiB")]
    [TestCase(1048575L, "1024.0 KiB")]
    [TestCase(3L << 20, "3.0 MiB")]
    public void SmallRequestsAreNamedInUnitsThatShowThem(long requested, string shown)
    {
        var e = new DeviceOutOfMemoryException("test", requested, 127L << 20, 128L << 20, null);
        Assert.That(e.Message, Does.StartWith($"Out of memory on test: could not allocate {shown} with 127.0 MiB already held by tensors"));
    }

    [Test]
    public void AnAllocationOverTheCapThrowsWithTheNumbersAndWhatToDo()
    {
        int allocations = 0;
        var allocator = new CachingAllocator<object>("test", _ => { allocations++; return new object(); }, _ => { }, limitBytes: 3L << 20);
        (object a, long capA) = allocator.Rent(2L << 20);
        Assert.That(capA, Is.EqualTo(2L << 20));
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => allocator.Rent(2L << 20))!; // 4 MiB > 3 MiB
        Assert.That(e.RequestedBytes, Is.EqualTo(2L << 20));
        Assert.That(e.AllocatedBytes, Is.EqualTo(2L << 20));
        Assert.That(e.LimitBytes, Is.EqualTo(3L << 20));
        Assert.That(e.Message, Is.EqualTo(
            "Out of memory on test: could not allocate 2.0 MiB with 2.0 MiB already held by tensors (device memory limit 3.0 MiB, MAMA_DEVICE_MEMORY_LIMIT). " +
            "Lower the micro-batch size, enable activation checkpointing or train in bf16."));
        Assert.That(allocations, Is.EqualTo(1), "nothing was taken from the device for the refused request");
        Assert.That(allocator.ReservedBytes, Is.EqualTo(2L << 20));

        // What fits under the cap still works, and a returned block is reused under it.
        (object b, long capB) = allocator.Rent(1L << 20);
        Assert.That(capB, Is.EqualTo(1L << 20));
        allocator.Return(a, capA);
        (object c, _) = allocator.Rent(2L << 20);
        Assert.That(c, Is.SameAs(a));
        Assert.That(allocations, Is.EqualTo(2));
        allocator.Return(b, capB);
    }

    [Test]
    public void CachedBlocksOfOtherSizesAreFreedToFitUnderTheCap()
    {
        int frees = 0;
        var allocator = new CachingAllocator<object>("test", _ => new object(), _ => frees++, limitBytes: 4L << 20);
        (object a, long capA) = allocator.Rent(2L << 20);
        (object b, long capB) = allocator.Rent(2L << 20);
        allocator.Return(a, capA);
        allocator.Return(b, capB);
        (_, long cap) = allocator.Rent(3L << 20); // 3 MiB: only after both cached 2 MiB blocks are freed
        Assert.That(cap, Is.EqualTo(3L << 20));
        Assert.That(frees, Is.EqualTo(2));
        Assert.That(allocator.CachedBytes, Is.EqualTo(0));
        Assert.That(allocator.ReservedBytes, Is.EqualTo(3L << 20));
    }

    [Test]
    public void BlocksHeldOnlyByGarbageAreCollectedBeforeTheAllocatorGrows()
    {
        // A block whose owner was dropped without Dispose comes back from the owner's finalizer (as a
        // Storage's does). Past the mark the allocator collects first and reuses it instead of
        // reserving a new block.
        int allocations = 0;
        var allocator = new CachingAllocator<object>("test", _ => { allocations++; return new object(); }, _ => { });
        long size = CachingAllocator<object>.InitialMark;
        DropWithoutDispose(allocator, size);
        long collections = allocator.Collections;
        (_, long cap) = allocator.Rent(size);
        Assert.That(cap, Is.EqualTo(size));
        Assert.That(allocations, Is.EqualTo(1), "the dropped block was reused, not a second one allocated");
        Assert.That(allocator.Collections, Is.EqualTo(collections + 1));
        Assert.That(allocator.CollectionsThatFound, Is.EqualTo(1));
        Assert.That(allocator.ReservedBytes, Is.EqualTo(size));
    }

    [Test]
    public void AGarbageBlockCountsAgainstTheCapOnlyUntilCollected()
    {
        var allocator = new CachingAllocator<object>("test", _ => new object(), _ => { }, limitBytes: 6L << 20);
        DropWithoutDispose(allocator, 4L << 20);
        Assert.DoesNotThrow(() => allocator.Rent(4L << 20));
        Assert.That(allocator.ReservedBytes, Is.EqualTo(4L << 20));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void DropWithoutDispose(CachingAllocator<object> allocator, long bytes)
    {
        (object block, long capacity) = allocator.Rent(bytes);
        _ = new Owner(allocator, block, capacity);
    }

    private sealed class Owner(CachingAllocator<object> allocator, object block, long capacity)
    {
        ~Owner() => allocator.Return(block, capacity);
    }
}
