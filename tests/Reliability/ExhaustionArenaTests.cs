using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Reliability;

/// <summary>
/// Real out-of-memory (issue 9 §4): a 24 MiB arena whose ordinary memory is used up by a memfd through
/// write(), then returned page by page with ftruncate(). Every failing call must give the kernel's errno
/// (ENOMEM: kho_alloc_preserve, vmalloc and radix node allocation failures, luo.md §2.6, §6.2, kho.md §2),
/// leave the state exactly as before, and succeed once the pages are back.
/// </summary>
public class ExhaustionArenaTests
{
    private static readonly long ENOMEM = ExhaustionKit.E(Errno.ENOMEM);

    [Fact]
    public void Write_to_a_memfd_at_oom_is_short_then_enomem()
    {
        var x = new ExhaustionKit();
        x.Exhaust();
        int m = x.DataMemfd(0, 0);
        // nothing free: the first page cannot be allocated → ENOMEM, size and offset unchanged
        Assert.Equal(ENOMEM, LuoSyscalls.WriteBytes(x.K, x.P, m, new byte[10]));
        Assert.Equal(0, x.K.Lseek(x.P, m, 0, MemfdConsts.SEEK_END));
        Assert.Equal(0, x.K.Lseek(x.P, m, 0, MemfdConsts.SEEK_CUR));
        // two pages free, a three-page write: short write of exactly the two pages that could be allocated
        x.Release(2);
        ulong buf = x.P.Memory.Map(3 * ExhaustionKit.Page, Prot.Read | Prot.Write);
        x.P.Memory.Poke(buf, ExhaustionKit.Pattern(3, 9));
        Assert.Equal(2 * ExhaustionKit.Page, x.K.Write(x.P, m, buf, 3 * ExhaustionKit.Page));
        Assert.Equal(2 * ExhaustionKit.Page, x.K.Lseek(x.P, m, 0, MemfdConsts.SEEK_CUR));
        Assert.Equal(ExhaustionKit.Pattern(3, 9).AsSpan(0, 2 * ExhaustionKit.Page).ToArray(), x.Contents(m));
        Assert.Equal(0, x.FreePages);
    }

    [Fact]
    public void Create_session_enomem_at_block_growth_rolls_back_and_recovers()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        x.Exhaust();
        var before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.CreateSession(x.K, x.P, dev, "s0", out _));
        Assert.Equal(before, x.Snap());                        // no session, no fd, no block, no page
        x.Release(1);
        var s = new List<int>();
        for (int i = 0; i < 51; i++) s.Add(x.Create(dev, $"s{i}"));   // one block holds 51 entries
        Assert.Equal(0, x.FreePages);
        Assert.Single(x.K.Luo.Outgoing.Blocks!.Blocks);
        before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.CreateSession(x.K, x.P, dev, "s51", out _));
        Assert.Equal(before, x.Snap());
        // a name that already exists fails EEXIST only after the grow, which has no page either → ENOMEM wins
        Assert.Equal(ENOMEM, LuoSyscalls.CreateSession(x.K, x.P, dev, "s0", out _));
        Assert.Equal(before, x.Snap());
        // resources return: a page is given back, the 52nd session gets its block
        x.Release(1);
        Assert.Equal(0, LuoSyscalls.CreateSession(x.K, x.P, dev, "s51", out int s51));
        Assert.Equal(2, x.K.Luo.Outgoing.Blocks!.Blocks.Count);
        Assert.Equal(0, x.FreePages);
        Assert.Equal(0, x.K.Close(x.P, s51));                  // shrink gives the second block back
        Assert.Equal(1, x.FreePages);
        foreach (int fd in s) Assert.Equal(0, x.K.Close(x.P, fd));
        Assert.Equal(2, x.FreePages);
        Assert.Empty(x.K.Luo.Outgoing.Blocks!.Blocks);
    }

    /// <summary>The figure of docs/reliability.md: with the arena left after boot, sessions fit until exactly
    /// 51 × (free pages) — one session block page per 51 sessions and nothing else from the arena.</summary>
    [Fact]
    public void Sessions_until_enomem_is_51_per_free_page()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        Assert.Equal(0, x.K.SetrlimitNofile(x.P, 1 << 16, 1 << 16));
        int free = x.FreePages;
        Assert.Equal(ExhaustionFigures.FreePagesAfterBoot24MiB, free);
        int n = 0;
        while (LuoSyscalls.CreateSession(x.K, x.P, dev, $"s{n}", out _) == 0) n++;
        Assert.Equal(51 * free, n);
        Assert.Equal(ExhaustionFigures.SessionsUntilEnomem24MiB, n);
        Assert.Equal(ENOMEM, LuoSyscalls.CreateSession(x.K, x.P, dev, $"s{n}", out _));
        Assert.Equal(0, x.FreePages);
    }

    /// <summary>PRESERVE_FD of a one-page memfd as the first file of a session needs four pages, taken in the
    /// kernel's order: file block, memfd_luo_ser, folio array (vcalloc), vmalloc chunk. With 0..3 free pages it
    /// fails ENOMEM at that step and everything is given back; with 4 it succeeds and nothing is left.</summary>
    [Fact]
    public void Preserve_memfd_enomem_at_every_allocation_rolls_back_exactly()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        int m = x.DataMemfd(1, 3);
        byte[] data = x.Contents(m);
        x.Exhaust();
        for (int free = 0; free < 4; free++)
        {
            x.SetFree(free);
            var before = x.Snap();
            Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 7));
            Assert.Equal(before, x.Snap());
            Assert.Equal(data, x.Contents(m));
            // the size freeze of §6.2 was undone: the memfd can change size again
            Assert.Equal(0, x.K.Ftruncate(x.P, m, 2 * ExhaustionKit.Page));
            Assert.Equal(0, x.K.Ftruncate(x.P, m, ExhaustionKit.Page));
        }
        x.SetFree(4);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 7));
        Assert.Equal(0, x.FreePages);
        // the second file of the session needs no block: 3 pages
        int m2 = x.DataMemfd(0, 0);
        Assert.Equal(0, x.K.Ftruncate(x.P, m2, 0));
        x.SetFree(0);
        var b2 = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m2, 8)); // empty memfd: only memfd_luo_ser
        Assert.Equal(b2, x.Snap());
        x.SetFree(1);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m2, 8));
        Assert.Equal(0, x.FreePages);
        // closing the session unpreserves and removes it: file block, 2 records, array, chunk and the
        // session block (it was the only session) come back
        Assert.Equal(0, x.K.Close(x.P, s));
        Assert.Equal(6, x.FreePages);
    }

    /// <summary>An FLB linked to the memfd handler is preserved (0→1) before the handler runs (luo.md §3.6 step 6);
    /// when the memfd then runs out of memory the FLB is unpreserved again (1→0) and its count is back to 0.</summary>
    [Fact]
    public void Preserve_enomem_after_flb_preserve_unpreserves_the_flb()
    {
        var x = new ExhaustionKit();
        var flb = new CallCountingFlb("exhaustion-flb");
        Assert.Equal(Errno.Ok, x.K.Luo.RegisterFlb(x.K.Luo.FindHandler("memfd-v2")!, flb));
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        int m = x.DataMemfd(1, 1);
        x.Exhaust();
        x.SetFree(2);                                          // block and record; the folio array fails
        var before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        Assert.Equal(before, x.Snap());
        Assert.Equal((1, 1, 0L), (flb.Preserves, flb.Unpreserves, flb.OutgoingCount));
        x.SetFree(4);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        Assert.Equal((2, 1, 1L), (flb.Preserves, flb.Unpreserves, flb.OutgoingCount));
    }

    private sealed class CallCountingFlb(string name) : LiveupdateFlb(name)
    {
        public int Preserves { get; private set; }
        public int Unpreserves { get; private set; }
        public override Errno Preserve(LiveupdateFlbOpArgs args) { Preserves++; args.Data = 0xF1; return Errno.Ok; }
        public override void Unpreserve(LiveupdateFlbOpArgs args) => Unpreserves++;
        public override Errno Retrieve(LiveupdateFlbOpArgs args) => Errno.Ok;
        public override void Finish(LiveupdateFlbOpArgs args) { }
    }

    /// <summary>File block growth at the 64th file (63 per block): ENOMEM with nothing changed, then success.</summary>
    [Fact]
    public void Preserve_enomem_at_the_64th_file_block_growth()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        for (int i = 0; i < 63; i++)
        {
            int t = (int)x.K.CreateTestFile(x.P, (ulong)i);
            Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, t, (ulong)i));
            Assert.Equal(0, x.K.Close(x.P, t));
        }
        int last = (int)x.K.CreateTestFile(x.P, 63);
        x.Exhaust();
        var before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, last, 63));
        Assert.Equal(before, x.Snap());
        Assert.Single(x.K.Luo.Outgoing.Sessions[0].FileBlocks!.Blocks);
        // the token check comes first (luo.md §3.6 step 1): a used token is EEXIST even at OOM
        Assert.Equal(ExhaustionKit.E(Errno.EEXIST), LuoSyscalls.PreserveFd(x.K, x.P, s, last, 5));
        x.Release(1);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, last, 63));
        Assert.Equal(2, x.K.Luo.Outgoing.Sessions[0].FileBlocks!.Blocks.Count);
    }

    /// <summary>memfd_pin_folios() fills holes before anything else; under OOM the hole folios it managed to
    /// allocate stay in the page cache (they are the file's pages now, reading as zeros), while everything LUO
    /// and KHO set up is undone. So "rolled back" holds for LUO/KHO state and file contents, not for the free
    /// page count — as in the kernel.</summary>
    [Fact]
    public void Preserve_sparse_memfd_at_oom_keeps_filled_holes_in_the_page_cache()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        int m = x.DataMemfd(1, 5);
        Assert.Equal(0, x.K.Ftruncate(x.P, m, 3 * ExhaustionKit.Page));   // pages 1 and 2 are holes
        byte[] data = x.Contents(m);
        x.Exhaust();
        x.SetFree(3);                                          // block, memfd_luo_ser, hole 1; hole 2 fails
        var before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        var after = x.Snap();
        Assert.Equal(before.Luo, after.Luo);
        Assert.Equal(before.Fds, after.Fds);
        Assert.Equal(before.RadixNodes, after.RadixNodes);
        Assert.Equal(2, after.FreePages);                      // hole 1 is now a page-cache page
        Assert.Equal(data, x.Contents(m));
        // retry with one hole left to fill: block + record + hole 2 + array + chunk = 5 pages
        x.SetFree(4);
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        Assert.Equal(3, x.FreePages);                          // hole 2 filled, chunk missing
        x.SetFree(4);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        Assert.Equal(0, x.FreePages);
    }

    /// <summary>KHO tracker pages: a folio above 128 MiB needs a new radix leaf (one leaf covers 32768 order-0
    /// pages, kho.md §3.1). In a 152 MiB arena (scratch [132, 152) MiB) with the low memory full, preserving a memfd whose page sits
    /// at 128 MiB fails ENOMEM at kho_preserve_folio when the leaf cannot be allocated (the node pages of the
    /// failed add are freed); once the leaf exists a later failure (at the vmalloc chunk) keeps it, because
    /// KHO never reclaims radix nodes (kho.md §2.3, §5 item 5). Then the handover carries the page byte-exact.</summary>
    [Fact]
    public void Preserve_enomem_at_the_kho_radix_leaf()
    {
        var x = new ExhaustionKit(152);
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        int t = x.Create(dev, "t");
        const ulong Leaf = 32768;                              // first pfn of the second order-0 leaf
        int low = LowFree(x, Leaf);
        // fill all memory sparsely: a huge memfd whose PRESERVE_FD pins (allocates) every hole until ENOMEM
        long hog = x.K.MemfdCreate(x.P, "hog", 0);
        Assert.Equal(0, x.K.Ftruncate(x.P, (int)hog, 1L << 30));
        int nodes = x.K.Kho.Tree!.NodePages.Count;
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, t, (int)hog, 1));
        Assert.Equal(nodes, x.K.Kho.Tree!.NodePages.Count);   // pin runs before any preserve: no leaf yet
        Assert.Equal(2, x.FreePages);                          // file block and memfd_luo_ser were given back
        // keep the hog's low pages only, then take the two low pages back: low memory full, high memory free
        Assert.Equal(0, x.K.Ftruncate(x.P, (int)hog, (long)(low - 2) * ExhaustionKit.Page));
        Assert.Equal(0, x.K.Ftruncate(x.P, (int)hog, (long)low * ExhaustionKit.Page));
        ulong buf = LuoSyscalls.Scratch(x.P);
        for (int i = low - 2; i < low; i++) Assert.Equal(1, x.K.Pwrite(x.P, (int)hog, buf, 1, (long)i * ExhaustionKit.Page));
        Assert.Equal(0, LowFree(x, Leaf));
        int m = x.DataMemfd(1, 11);                            // its page is the first high page
        byte[] data = x.Contents(m);
        x.Exhaust();                                           // second hog: the rest of high memory
        // three low pages for block, record and array; none for the leaf
        Assert.Equal(0, x.K.Ftruncate(x.P, (int)hog, (long)(low - 3) * ExhaustionKit.Page));
        Assert.Equal(3, x.FreePages);
        var before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        Assert.Equal(before, x.Snap());
        // one high page more: the leaf is allocated, the vmalloc chunk is not → ENOMEM, leaf kept
        x.Release(1);
        before = x.Snap();
        Assert.Equal(ENOMEM, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        var after = x.Snap();
        Assert.Equal(before.Luo, after.Luo);
        Assert.Equal(before.RadixNodes + 1, after.RadixNodes);
        Assert.Equal(before.FreePages - 1, after.FreePages);
        x.Release(1);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        Assert.Equal(0, x.FreePages);
        Assert.Equal(0, x.K.Close(x.P, t));
        x.KexecNext();
        int dev2 = x.OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "s", out int s2));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(x.K, x.P, s2, 1, out int m2));
        Assert.Equal(data, x.Contents(m2));
    }

    private static int LowFree(ExhaustionKit x, ulong below)
    {
        int n = 0;
        for (ulong pfn = 0; pfn < below; pfn++) if (!x.K.Kho.Pages.IsUsed(pfn)) n++;
        return n;
    }

    /// <summary>The KHO calls themselves at OOM (kho.md §2.1, §2.8): kho_alloc_preserve of an order-3 block
    /// needs 8 aligned pages plus the radix path of a new order (5 node pages); with fewer pages it fails
    /// ENOMEM and leaves the key set, the node pages and the free count as they were.</summary>
    [Fact]
    public void Kho_alloc_preserve_enomem_leaves_key_set_and_nodes_unchanged()
    {
        var x = new ExhaustionKit();
        var kho = x.K.Kho;
        x.Exhaust();
        x.SetFree(16);                                         // the released hog pages are contiguous
        var keys = kho.PreservedBlocks();
        int nodes = kho.Tree!.NodePages.Count;
        x.SetFree(12);                                         // 8 for the block + 4 nodes: one node short
        Assert.Equal(Errno.ENOMEM, kho.AllocPreserve(8 * ExhaustionKit.Page, out _));
        Assert.Equal(keys, kho.PreservedBlocks());
        Assert.Equal(nodes, kho.Tree.NodePages.Count);
        Assert.Equal(12, x.FreePages);
        x.SetFree(13);
        Assert.Equal(Errno.Ok, kho.AllocPreserve(8 * ExhaustionKit.Page, out ulong phys));
        Assert.Equal(nodes + 5, kho.Tree.NodePages.Count);
        Assert.Contains((phys, 3), kho.PreservedBlocks());
        Assert.Equal(0, x.FreePages);
        kho.UnpreserveFree(phys);                              // the block comes back, the nodes stay
        Assert.Equal(8, x.FreePages);
        Assert.Equal(keys, kho.PreservedBlocks());
    }

    /// <summary>kho_preserve_pages at OOM (kho.md §2.3, §5 item 7): a 6-page run at pfn ≡ 2 (mod 4) splits into
    /// an order-1 and an order-2 block, each the first key of its order (5 new radix pages each). With 7 free
    /// pages the second block fails ENOMEM; the first key is removed again, so the key set is unchanged, while
    /// the node pages of the first block stay (nodes are never reclaimed).</summary>
    [Fact]
    public void Kho_preserve_pages_enomem_is_all_or_nothing_on_the_key_set()
    {
        var x = new ExhaustionKit();
        var kho = x.K.Kho;
        x.Exhaust();
        const ulong Pfn = 0x202;
        Assert.Equal([1, 2], new[] { LuoModel.Kho.Kho.SplitOrder(Pfn, Pfn + 6), LuoModel.Kho.Kho.SplitOrder(Pfn + 2, Pfn + 6) });
        x.SetFree(7);
        var keys = kho.PreservedBlocks();
        int nodes = kho.Tree!.NodePages.Count;
        Assert.Equal(Errno.ENOMEM, kho.PreservePages(Pfn, 6));
        Assert.Equal(keys, kho.PreservedBlocks());
        Assert.Equal(nodes + 5, kho.Tree.NodePages.Count);
        Assert.Equal(2, x.FreePages);
        x.SetFree(5);
        Assert.Equal(Errno.Ok, kho.PreservePages(Pfn, 6));
        Assert.Equal(0, x.FreePages);
        Assert.Equal(keys.Count + 2, kho.PreservedBlocks().Count);
        Assert.Equal(Errno.Ok, kho.UnpreservePages(Pfn, 6));
        Assert.Equal(keys, kho.PreservedBlocks());
    }
}

/// <summary>Measured figures quoted in docs/reliability.md (asserted by the tests that produce them).</summary>
internal static class ExhaustionFigures
{
    /// <summary>Free ordinary pages of a 24 MiB arena after cold boot and the first open of /dev/liveupdate.</summary>
    public const int FreePagesAfterBoot24MiB = 758;
    /// <summary>CREATE_SESSION successes before the first ENOMEM in that state (51 × free pages).</summary>
    public const int SessionsUntilEnomem24MiB = 38658;
}
