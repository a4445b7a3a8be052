using MaMA.Engine.Devices;
using MaMA.Engine.Memory;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

[TestFixture]
public sealed class AllocatorTests
{
    [TestCase(1, 512)]
    [TestCase(512, 512)]
    [TestCase(513, 1024)]
    [TestCase(1 << 20, 1 << 20)]
    [TestCase((1 << 20) + 1, (1 << 20) + (64 << 10))]
    [TestCase((5 << 20) + 7, (5 << 20) + (256 << 10))]
    [TestCase(8 << 20, 8 << 20)]
    [TestCase((8 << 20) + 1, (8 << 20) + (512 << 10))]
    [TestCase(1374 * 768 * 4, (4 << 20) + (256 << 10))] // a ViT-B/14 activation at 518: 4.03 MiB
    public void RoundsSizesIntoBuckets(long request, long expected) =>
        Assert.That(CachingAllocator<object>.RoundSize(request), Is.EqualTo(expected));

    [Test]
    public void DisposedBlocksAreReusedNotReallocated()
    {
        int allocations = 0, frees = 0;
        var allocator = new CachingAllocator<object>("test", _ => { allocations++; return new object(); }, _ => frees++);
        (object a, long capA) = allocator.Rent(1000);
        allocator.Return(a, capA);
        (object b, long capB) = allocator.Rent(900);
        Assert.That(b, Is.SameAs(a));
        Assert.That(capB, Is.EqualTo(1024));
        Assert.That(allocations, Is.EqualTo(1));
        Assert.That(allocator.CacheHits, Is.EqualTo(1));
        Assert.That(allocator.AllocatedBytes, Is.EqualTo(1024));
        allocator.Return(b, capB);
        allocator.Return(b, capB); // a second return of the same block is ignored
        Assert.That(allocator.CachedBytes, Is.EqualTo(1024));
        allocator.EmptyCache();
        Assert.That(frees, Is.EqualTo(1));
        Assert.That(allocator.CachedBytes, Is.EqualTo(0));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void TensorDisposeReturnsMemoryToTheDevice(string device)
    {
        Device d = Device.Parse(device);
        // Earlier tests' garbage tensors return their storage from finalizers, and the allocator may
        // run a collection on a cache miss: settle them first so only this test's tensors move the count.
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        long before = d.AllocatedBytes;
        Tensor t = Tensor.Zeros([100, 333], DType.Float32, d);
        Tensor view = t.Transpose(0, 1);
        Assert.That(d.AllocatedBytes - before, Is.GreaterThanOrEqualTo(100 * 333 * 4));
        t.Dispose();
        Assert.That(d.AllocatedBytes - before, Is.GreaterThan(0), "a live view keeps the storage");
        using (Tensor copy = view.Contiguous())
            Assert.That(copy.ToArray<float>().Sum(), Is.EqualTo(0));
        view.Dispose();
        Assert.That(d.AllocatedBytes, Is.EqualTo(before));
    }

    [Test]
    public void DeviceParsingNamesTheChoices()
    {
        Assert.That(Device.Parse("cpu"), Is.SameAs(Device.Cpu));
        Assert.That(Device.Parse("ilgpu-cpu").Kind, Is.EqualTo(DeviceKind.IlgpuCpu));
        Assert.That(Device.Parse("auto"), Is.Not.Null);
        var e = Assert.Throws<ArgumentException>(() => Device.Parse("tpu"))!;
        Assert.That(e.Message, Does.Contain("auto, cuda, cuda:K, opencl, cpu or ilgpu-cpu"));
        Assert.That(Assert.Throws<ArgumentException>(() => Device.Parse("cuda:x"))!.Message, Does.Contain("cuda:K takes a card number"));
        Assert.That(Assert.Throws<ArgumentException>(() => Device.Parse("cuda:-1"))!.Message, Does.Contain("cuda:K takes a card number"));
    }

    [Test]
    public void CudaCardsAreNumberedFromZero()
    {
        // cuda:K exists exactly for K < CudaCount(); cuda is cuda:0. On a machine without CUDA every card is missing, by name.
        int cards = Device.CudaCount();
        Assert.That(cards, Is.GreaterThanOrEqualTo(0));
        var missing = Assert.Throws<InvalidOperationException>(() => Device.Parse($"cuda:{cards}"))!;
        Assert.That(missing.Message, Does.Contain($"No cuda:{cards} device on this machine").And.Contain("cpu: "));
        if (cards > 0) Assert.That(Device.Parse("cuda:0"), Is.SameAs(Device.Parse("cuda")));
    }
}
