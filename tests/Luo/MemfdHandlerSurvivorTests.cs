using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of the `ioctl` chunk in MemfdHandler.cs (luo.md §6):
/// argument checks of the handler ops, the allocation tag of the record, the folio array on a failed preserve
/// (size, zeroing, release), the seals and size limits of memfd-v2, sealing and cleanup on retrieve, and the
/// hugetlb path name.</summary>
public sealed class MemfdHandlerSurvivorTests : LuoTestBase
{
    private void Boot(MemfdVersion version, ulong dram = 1UL << 30)
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = dram, Luo = new LuoOptions { MemfdVersion = version } });
        P = K.CreateProcess();
    }

    private MemfdHandler Handler => K.Luo.Handlers.OfType<MemfdHandler>().Single();

    private int FullMemfd(int pages)
    {
        int m = Memfd();
        var data = new byte[pages * 4096];
        new Random(pages).NextBytes(data);
        Assert.Equal(data.Length, LuoSyscalls.WriteBytes(K, P, m, data));
        return m;
    }

    private MemfdPrivate PrivOf(int session) =>
        (MemfdPrivate)K.Luo.Outgoing.List.Single(x => x.File == P.FileOf(session)).FileList.Single().PrivateData!;

    [Fact]
    public void Handler_ops_reject_a_null_argument_block()
    {
        var h = Handler;
        Assert.Throws<ArgumentNullException>("args", () => h.Preserve(null!));
        Assert.Throws<ArgumentNullException>("args", () => h.Freeze(null!));
        Assert.Throws<ArgumentNullException>("args", () => h.Unpreserve(null!));
        Assert.Throws<ArgumentNullException>("args", () => h.Retrieve(null!));
        Assert.Throws<ArgumentNullException>("args", () => h.Finish(null!));
    }

    [Fact]
    public void The_record_is_allocated_under_the_memfd_luo_ser_tag()
    {
        int dev = OpenDev();
        int s = Create(dev, "tag");
        int m = FullMemfd(1);
        K.Faults.Logging = true;
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        var allocs = K.Faults.Log.Where(c => c.Point == FaultPoint.KhoAllocPreserve).Select(c => c.Detail).ToArray();
        Assert.Equal(["block", "memfd_luo_ser"], allocs);             // the session's file block, then the record
    }

    [Fact]
    public void A_failed_preserve_frees_the_folio_array_and_unpreserves_everything()
    {
        int dev = OpenDev();
        int s = Create(dev, "fail");
        int m = FullMemfd(3);
        int s2 = Create(dev, "warm");                                   // grows nothing later: warm the file blocks
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s2, FullMemfd(1), 9));
        ulong used = K.Kho.Pages.UsedPages;
        var preserved = K.Kho.PreservedBlocks().ToHashSet();
        foreach (var point in new[] { FaultPoint.MemfdVmallocPreserve, FaultPoint.MemfdFolioPreserve })
        {
            K.Faults.FailNext(point, Errno.ENOMEM);
            Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.PreserveFd(K, P, s, m, 1));
            Assert.Equal(used, K.Kho.Pages.UsedPages);
            Assert.Equal(preserved, K.Kho.PreservedBlocks().ToHashSet());
            Assert.Equal(0, K.Ftruncate(P, m, 4096));                   // size unfrozen
            Assert.Equal(0, K.Ftruncate(P, m, 3 * 4096));
        }
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
    }

    [Fact]
    public void The_folio_array_takes_exactly_the_pages_its_entries_fill()
    {
        int dev = OpenDev();
        int s = Create(dev, "array");
        int m = Memfd();
        Assert.Equal(0, K.Ftruncate(P, m, 256 * 4096));                 // 256 entries of 16 bytes: one page
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        var priv = PrivOf(s);
        Assert.Equal(256, priv.Folios.Count);
        Assert.Single(K.Kho.Vmalloc.Find(priv.ArrayAddr)!.Pages);
        Assert.Equal(1UL, priv.Descriptor.TotalPages);
    }

    [Fact]
    public void The_folio_array_is_zeroed_beyond_its_entries()
    {
        int dev = OpenDev();
        int s = Create(dev, "stale");
        int s2 = Create(dev, "fresh");
        int m2 = FullMemfd(1);                                          // its data page is taken before the array is freed
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, FullMemfd(1), 1));
        ulong arrayPage = K.Kho.Vmalloc.Find(PrivOf(s).ArrayAddr)!.Pages.Single();
        Assert.Equal(0, K.Close(P, s));                                 // the array page goes back to the allocator
        Assert.False(K.Kho.Pages.IsUsed(arrayPage >> PhysicalArena.PageShift));
        K.Arena.Fill(arrayPage, PhysicalArena.PageSize, 0xA5);          // stale contents of a free page
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s2, m2, 1));
        ulong again = K.Kho.Vmalloc.Find(PrivOf(s2).ArrayAddr)!.Pages.Single();
        Assert.Equal(arrayPage, again);                                 // the same page was handed out again
        var page = new byte[PhysicalArena.PageSize];
        K.Arena.Read(again, page);
        Assert.All(page[MemfdLuoFolioSer.Size..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Memfd_v2_refuses_unknown_seals_and_v1_ignores_them()
    {
        foreach (var version in new[] { MemfdVersion.V2, MemfdVersion.V1 })
        {
            Boot(version);
            int dev = OpenDev();
            int s = Create(dev, "seals");
            int m = FullMemfd(1);
            ((MemfdFile)P.FileOf(m)!).Inode.Seals = 0x40;               // outside F_SEAL_* (0x3F)
            long expected = version == MemfdVersion.V2 ? E(Errno.EOPNOTSUPP) : 0;
            Assert.Equal(expected, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        }
    }

    [Fact]
    public void Memfd_v2_refuses_more_than_u32_max_pages_with_EFBIG()
    {
        Boot(MemfdVersion.V2, 32UL << 20);
        int dev = OpenDev();
        int s = Create(dev, "big");
        int m = Memfd();
        Assert.Equal(0, K.Ftruncate(P, m, (long)(uint.MaxValue + 1UL) * 4096));
        ulong used = K.Kho.Pages.UsedPages;
        Assert.Equal(E(Errno.EFBIG), LuoSyscalls.PreserveFd(K, P, s, m, 1));
        Assert.Equal(used, K.Kho.Pages.UsedPages);                      // refused before pinning anything
        // Exactly u32-max pages is allowed: pinning runs out of memory instead.
        Assert.Equal(0, K.Ftruncate(P, m, (long)uint.MaxValue * 4096));
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.PreserveFd(K, P, s, m, 1));
    }

    [Fact]
    public void Memfd_v1_has_no_page_limit_and_runs_out_of_memory()
    {
        Boot(MemfdVersion.V1, 32UL << 20);
        int dev = OpenDev();
        int s = Create(dev, "big");
        int m = Memfd();
        Assert.Equal(0, K.Ftruncate(P, m, (long)(uint.MaxValue + 1UL) * 4096));
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.PreserveFd(K, P, s, m, 1));
    }

    [Fact]
    public void Retrieve_of_a_v2_record_with_unknown_seals_fails_EOPNOTSUPP()
    {
        Boot(MemfdVersion.V2);
        int dev = OpenDev();
        int s = Create(dev, "badseals");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, FullMemfd(1), 1));
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "badseals", out int s2));
        ulong ser = K.Luo.Incoming.List.Single().FileList.Single().SerializedData;
        K.Arena.Write(ser + MemfdLuoSer.SealsOffset, [0x40, 0, 0, 0]);
        Assert.Equal(E(Errno.EOPNOTSUPP), LuoSyscalls.RetrieveFd(K, P, s2, 1, out int fd));
        Assert.Equal(-1, fd);
    }

    [Fact]
    public void A_retrieved_v2_memfd_can_be_sealed_and_a_v1_memfd_cannot()
    {
        foreach (var version in new[] { MemfdVersion.V2, MemfdVersion.V1 })
        {
            Boot(version);
            int dev = OpenDev();
            int s = Create(dev, "sealing");
            long m0 = K.MemfdCreate(P, "sealable", MemfdConsts.MFD_ALLOW_SEALING);
            Assert.True(m0 >= 0);
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)m0, 1));
            KexecNext(new KernelConfig { DramBytes = 1UL << 30, Luo = new LuoOptions { MemfdVersion = version } });
            dev = OpenDev();
            Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "sealing", out int s2));
            Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s2, 1, out int m));
            long expected = version == MemfdVersion.V2 ? 0 : E(Errno.EPERM);
            Assert.Equal(expected, K.Fcntl(P, m, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_GROW));
        }
    }

    [Fact]
    public void A_failed_folio_restore_drops_the_new_memfd_and_every_folio()
    {
        int dev = OpenDev();
        int s = Create(dev, "restore");
        int m = FullMemfd(3);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        ulong[] pfns = [.. ((MemfdFile)P.FileOf(m)!).Inode.Pages.Select(x => x.Pfn)];
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "restore", out int s2));
        K.Faults.FailNth(FaultPoint.MemfdFolioRestore, K.Faults.Count(FaultPoint.MemfdFolioRestore) + 2, Errno.ENOMEM);
        Assert.Equal(E(Errno.EIO), LuoSyscalls.RetrieveFd(K, P, s2, 1, out _));
        Assert.False(K.Kho.Pages.IsUsed(pfns[0]));                      // restored into the dropped memfd: freed with it
        Assert.True(K.Kho.Pages.IsUsed(pfns[1]));                       // its restore failed: never given back
        Assert.False(K.Kho.Pages.IsUsed(pfns[2]));                      // the rest is restored and released
    }

    [Fact]
    public void A_hugetlb_memfd_links_to_its_memfd_name()
    {
        long fd = K.MemfdCreate(P, "huge", MemfdConsts.MFD_HUGETLB);
        Assert.True(fd >= 0);
        Assert.Equal("/memfd:huge (deleted)", P.FdPath((int)fd));
        Assert.Equal("/memfd:m (deleted)", P.FdPath(Memfd()));
    }
}
