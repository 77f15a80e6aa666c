using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>
/// Page accounting of the memfd handler (luo.md §6.2, §6.3, §6.6): unpreserve and finish give back every page they
/// took — data folios, the folio array, the vmalloc descriptor chunk, the serialized record — and memfd-v1 records
/// take their flags from the folios' dirty bits.
/// </summary>
public sealed class MemfdPageAccountingTests : LuoTestBase
{
    private int WrittenMemfd(int pages)
    {
        int m = Memfd();
        var data = new byte[pages * 4096];
        new Random(pages).NextBytes(data);
        Assert.Equal(data.Length, LuoSyscalls.WriteBytes(K, P, m, data));
        return m;
    }

    [Fact]
    public void Preserve_then_close_of_the_session_leaks_neither_pages_nor_preservations()
    {
        int dev = OpenDev();
        int m = WrittenMemfd(3);
        var used = new List<ulong>();
        var kept = new List<HashSet<(ulong, int)>>();
        ulong[] data = [.. ((MemfdFile)P.FileOf(m)!).Inode.Pages.Select(x => x.Pfn << PhysicalArena.PageShift)];
        for (int round = 0; round < 4; round++)
        {
            int s = Create(dev, "cycle");
            var before = K.Kho.PreservedBlocks().ToHashSet();
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 7));
            var priv = (MemfdPrivate)K.Luo.Outgoing.List.Single().FileList.Single().PrivateData!;
            ulong[] array = [.. K.Kho.Vmalloc.Find(priv.ArrayAddr)!.Pages];
            ulong[] taken = [.. data, priv.SerPhys, .. array];
            var during = K.Kho.PreservedBlocks().Select(b => b.Phys).ToHashSet();
            foreach (ulong phys in data.Append(priv.SerPhys)) Assert.Contains(phys, during);
            Assert.Equal(0, K.Close(P, s));                       // unpreserve: memfd_luo_unpreserve()
            var after = K.Kho.PreservedBlocks().ToHashSet();
            foreach (ulong phys in taken) Assert.DoesNotContain(after, b => b.Item1 == phys);
            Assert.True(after.IsSubsetOf(before), "unpreserve left a preservation behind");
            Assert.DoesNotContain(array, p => K.Kho.Pages.IsUsed(p >> PhysicalArena.PageShift));
            Assert.False(K.Kho.Pages.IsUsed(priv.SerPhys >> PhysicalArena.PageShift));
            Assert.Null(K.Kho.Vmalloc.Find(priv.ArrayAddr));           // vfree() also removed the vm area
            Assert.Equal(0, K.Ftruncate(P, m, 3 * 4096));        // the size is no longer frozen
            used.Add(K.Kho.Pages.UsedPages);
            kept.Add(after);
        }
        Assert.Equal(used[1], used[2]);                           // rounds after the first allocate and free the same
        Assert.Equal(kept[1], kept[3]);
        Assert.Equal(used[2], used[3]);
    }

    [Fact]
    public void Finish_of_a_never_retrieved_memfd_frees_its_folios_array_and_record()
    {
        int dev = OpenDev();
        int s = Create(dev, "finish-frees");
        int m = WrittenMemfd(3);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        var pfns = ((MemfdFile)P.FileOf(m)!).Inode.Pages.Select(x => x.Pfn).ToArray();
        var priv = (MemfdPrivate)K.Luo.Outgoing.List.Single().FileList.Single().PrivateData!;
        ulong arrayPfn = priv.ArrayAddr == 0 ? 0 : K.Kho.Vmalloc.Find(priv.ArrayAddr)!.Pages[0] >> PhysicalArena.PageShift;
        ulong serPfn = priv.SerPhys >> PhysicalArena.PageShift;
        Assert.NotEqual(0UL, arrayPfn);
        KexecNext();

        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "finish-frees", out int s2));
        foreach (ulong pfn in pfns) Assert.True(K.Kho.Pages.IsUsed(pfn));
        Assert.True(K.Kho.Pages.IsUsed(arrayPfn));
        Assert.True(K.Kho.Pages.IsUsed(serPfn));
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s2));             // memfd_luo_finish(): restore and release
        foreach (ulong pfn in pfns) Assert.False(K.Kho.Pages.IsUsed(pfn));
        Assert.False(K.Kho.Pages.IsUsed(arrayPfn));
        Assert.False(K.Kho.Pages.IsUsed(serPfn));
    }

    [Fact]
    public void Retrieve_frees_the_folio_array_and_the_record_but_keeps_the_data()
    {
        int dev = OpenDev();
        int s = Create(dev, "retrieve-frees");
        int m = WrittenMemfd(2);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        var pfns = ((MemfdFile)P.FileOf(m)!).Inode.Pages.Select(x => x.Pfn).ToArray();
        var priv = (MemfdPrivate)K.Luo.Outgoing.List.Single().FileList.Single().PrivateData!;
        ulong arrayPfn = K.Kho.Vmalloc.Find(priv.ArrayAddr)!.Pages[0] >> PhysicalArena.PageShift;
        ulong serPfn = priv.SerPhys >> PhysicalArena.PageShift;
        KexecNext();

        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "retrieve-frees", out int s2));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s2, 1, out int m2));
        foreach (ulong pfn in pfns) Assert.True(K.Kho.Pages.IsUsed(pfn));
        Assert.False(K.Kho.Pages.IsUsed(arrayPfn));
        Assert.False(K.Kho.Pages.IsUsed(serPfn));
        Assert.Equal(pfns, ((MemfdFile)P.FileOf(m2)!).Inode.Pages.Select(x => x.Pfn).ToArray());
    }

    [Fact]
    public void Memfd_v1_flags_come_from_the_dirty_bits_and_v2_marks_every_folio_dirty()
    {
        foreach (var version in new[] { MemfdVersion.V1, MemfdVersion.V2 })
        {
            K = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = 1UL << 30, Luo = new LuoOptions { MemfdVersion = version } });
            P = K.CreateProcess();
            int dev = OpenDev();
            int s = Create(dev, "flags");
            int m = WrittenMemfd(1);
            Assert.Equal(0, K.Ftruncate(P, m, 3 * 4096));        // pages 1 and 2 are holes, filled (clean) at preserve
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
            var priv = (MemfdPrivate)K.Luo.Outgoing.List.Single().FileList.Single().PrivateData!;
            const uint dirtyUptodate = MemfdLuoFolioSer.FlagDirty | MemfdLuoFolioSer.FlagUptodate;
            uint[] expected = version == MemfdVersion.V2
                ? [dirtyUptodate, dirtyUptodate, dirtyUptodate]
                : [dirtyUptodate, MemfdLuoFolioSer.FlagUptodate, MemfdLuoFolioSer.FlagUptodate];
            Assert.Equal(expected, priv.Folios.OrderBy(f => f.Index).Select(f => f.Flags).ToArray());
            Assert.Equal([0UL, 1UL, 2UL], priv.Folios.Select(f => f.Index).Order().ToArray());
        }
    }
}
