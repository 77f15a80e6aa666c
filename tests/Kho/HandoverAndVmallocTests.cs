using System.Buffers.Binary;
using LuoModel.Kho;
using static LuoModel.Tests.Kho.KhoTestKit;

namespace LuoModel.Tests.Kho;

/// <summary>Bad handovers (kho.md §1.7), vmalloc (§2.5–§2.7), kho-v1 (§1.5, §3.3).</summary>
public class HandoverAndVmallocTests
{
    private static (LuoModel.Kho.Kho Old, KexecHandoff H) Handed(KhoOptions? o = null)
    {
        var k = Cold(o);
        k.PreserveFolio(new Folio(0x4000, 0));
        Assert.Equal(Errno.Ok, k.Kexec(out var h));
        return (k, h!.Value);
    }

    [Fact]
    public void Corrupt_fdt_magic_gives_a_normal_boot()
    {
        var (k, h) = Handed();
        k.Arena.Write(h.FdtPhys, new byte[4]);
        var n = LuoModel.Kho.Kho.Boot(k.Arena, null, h);
        Assert.Equal(KhoBootReject.FdtBadHeader, n.Incoming.Reject);
        Assert.StartsWith("disabling KHO revival", n.Incoming.Reason);
        Assert.False(n.RestoreFolio(0x4000000, out _));
        Assert.Equal(Errno.ENOENT, n.RetrieveSubtree(KhoKexecMetadata.Name, out _, out _));
        Assert.Equal(1u, n.KexecCount);
        Assert.Equal(3, n.Scratch.Count); // fresh cold-boot scratch
    }

    [Fact]
    public void Compatible_mismatch_and_other_rejections()
    {
        var (k, h) = Handed();
        Assert.Equal(KhoBootReject.CompatibleMismatch, HandoverReader.Read(k.Arena, h, new KhoOptions { Compatible = "kho-v5" }).Reject);
        Assert.Equal(KhoBootReject.FdtUnmappable, HandoverReader.Read(k.Arena, h with { FdtPhys = KhoTestKit.Dram }, new()).Reject);
        Assert.Equal(KhoBootReject.FdtBadHeader, HandoverReader.Read(k.Arena, h with { FdtPhys = h.FdtPhys + 4 }, new()).Reject);
        Assert.Equal(KhoBootReject.ScratchUnmappable, HandoverReader.Read(k.Arena, h with { ScratchPhys = KhoTestKit.Dram - 8 }, new()).Reject);
        // the map value is at 0x60 in the root FDT; 0 → rejected
        var fdt = new byte[8];
        k.Arena.Read(h.FdtPhys + 0x60, fdt);
        k.Arena.WriteU64(h.FdtPhys + 0x60, 0);
        Assert.Equal(KhoBootReject.BadMemoryMap, HandoverReader.Read(k.Arena, h, new()).Reject);
        k.Arena.Write(h.FdtPhys + 0x60, fdt);
        // scratch entry pointing outside memory: mark fails, earlier entries kept
        k.Arena.WriteU64(h.ScratchPhys + 16, KhoTestKit.Dram);
        var r = HandoverReader.Read(k.Arena, h, new());
        Assert.Equal(KhoBootReject.ScratchMarkFailed, r.Reject);
        Assert.Single(r.ScratchArray);
    }

    [Fact]
    public void Cyclic_or_wild_map_pointers_are_rejected_not_followed()
    {
        var (k, h) = Handed();
        ulong root = HandoverReader.Read(k.Arena, h, new()).MapPhys;
        k.Arena.WriteU64(root + 8 * 100, root);                        // root points at itself
        var n = LuoModel.Kho.Kho.Boot(k.Arena, null, h);
        Assert.Equal(KhoBootReject.WalkFailed, n.Incoming.Reject);
        Assert.Contains("NotATree", n.Incoming.Reason);
        Assert.Equal(0UL, n.MemMap.GetPrivate(0x4000));                 // nothing stamped
        k.Arena.WriteU64(root + 8 * 100, 0xFFFF_0000_0000_0000);
        Assert.Contains("PointerOutsideMemory", HandoverReader.Read(k.Arena, h, new()).Reason);
        k.Arena.WriteU64(root + 8 * 100, 0x4000010);
        Assert.Contains("PointerUnaligned", HandoverReader.Read(k.Arena, h, new()).Reason);
        // a key above bit 52 in a crafted path: slot 8 of L5 sets key bit 54
        k.Arena.WriteU64(root + 8 * 100, 0);
        ulong leafPath = k.Arena.ReadU64(root + 16);
        k.Arena.WriteU64(root + 8 * 8, leafPath);
        Assert.Equal(KhoBootReject.WalkFailed, HandoverReader.Read(k.Arena, h, new()).Reject);
    }

    [Fact]
    public void Variant_M_rejects_order_19_and_N_accepts_it()
    {
        foreach (var v in new[] { KhoVariant.M, KhoVariant.N })
        {
            var k = Cold(new KhoOptions { Variant = v });
            k.PreserveFolio(new Folio(1UL << 19, 19));
            var n = k.Reboot();
            Assert.Equal(v == KhoVariant.M ? KhoBootReject.OrderTooLargeForM : KhoBootReject.None, n.Incoming.Reject);
        }
    }

    [Fact]
    public void Vmalloc_round_trip_with_chunk_layout()
    {
        var k = Cold();
        ulong va = k.Vmalloc.Allocate(3);
        var area = k.Vmalloc.Find(va)!;
        var data = new byte[3 * 4096];
        new Random(7).NextBytes(data);
        for (int i = 0; i < 3; i++) k.Arena.Write(area.Pages[i], data.AsSpan(i * 4096, 4096));
        var desc = new KhoVmalloc();
        Assert.Equal(Errno.Ok, k.PreserveVmalloc(va, ref desc));
        Assert.Equal((3u, KhoVmalloc.FlagAlloc, (ushort)0), (desc.TotalPages, desc.Flags, desc.Order));
        Assert.Equal(0UL, k.Arena.ReadU64(desc.First));
        for (int i = 0; i < 3; i++) Assert.Equal(area.Pages[i], k.Arena.ReadU64(desc.First + 8 + 8 * (ulong)i));
        Assert.Equal(0UL, k.Arena.ReadU64(desc.First + 32));
        var keys = Keys(k);
        Assert.Contains((desc.First, 0), keys);
        Assert.All(area.Pages, p => Assert.Contains((p, 0), keys));
        var n = k.Reboot();
        ulong va2 = n.RestoreVmalloc(desc);
        Assert.NotEqual(0UL, va2);
        var a2 = n.Vmalloc.Find(va2)!;
        Assert.Equal(area.Pages, a2.Pages);
        var back = new byte[3 * 4096];
        for (int i = 0; i < 3; i++) n.Arena.Read(a2.Pages[i], back.AsSpan(i * 4096, 4096));
        Assert.Equal(data, back);
        Assert.False(n.RestoreFolio(desc.First, out _));   // chunk page was consumed
        Assert.Equal(0UL, n.RestoreVmalloc(desc));          // second restore fails
    }

    [Fact]
    public void Vmalloc_errors_and_trailing_empty_chunk()
    {
        var k = Cold();
        var d = new KhoVmalloc();
        Assert.Equal(Errno.EINVAL, k.PreserveVmalloc(0x1234, ref d));
        ulong vmap = k.Vmalloc.Allocate(1, VmFlags.Map);
        Assert.Equal(Errno.EOPNOTSUPP, k.PreserveVmalloc(vmap, ref d));
        ulong big = k.Vmalloc.Allocate(511);
        Assert.Equal(Errno.Ok, k.PreserveVmalloc(big, ref d));
        ulong second = k.Arena.ReadU64(d.First);
        Assert.NotEqual(0UL, second);                        // 511 blocks → 2 chunks (floor(511/511)+1)
        Assert.Equal(0UL, k.Arena.ReadU64(second + 8));
        var before = Keys(k);
        k.UnpreserveVmalloc(d);
        Assert.Equal(before.Count - 513, Keys(k).Count);
    }

    [Fact]
    public void Vmalloc_failure_rollback_uses_stale_order_and_leaves_high_order_keys()
    {
        var k = LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(2UL << 30));
        ulong va = k.Vmalloc.Allocate(512 * 512, VmFlags.Alloc | VmFlags.AllowHugeVmap, pageOrder: 9);
        var before = Keys(k);
        var d = new KhoVmalloc(0xDEAD000, 77, 0, 0);          // caller's stale descriptor, order 0
        // allocations: chunk 1, five nodes for block 0's order-9 path, then chunk 2 (after 511 blocks) fails
        k.Pages.InjectFailure(succeedFirst: 6);
        Assert.Equal(Errno.ENOMEM, k.PreserveVmalloc(va, ref d));
        Assert.Equal((77u, (ushort)0, (ushort)0), (d.TotalPages, d.Flags, d.Order)); // untouched on failure
        Assert.NotEqual(0xDEAD000UL, d.First);                                       // first is left stale
        var left = Keys(k).Except(before).ToList();
        // the 511 listed order-9 keys stay: rollback unpreserved them as 1-page runs (§2.5)
        Assert.Equal(511, left.Count);
        Assert.All(left, x => Assert.Equal(9, x.Item2));
        Assert.DoesNotContain((d.First, 0), Keys(k));                                // chunk key removed
    }

    [Fact]
    public void KhoV1_finalize_abort_busy_and_chunk_bytes()
    {
        var k = Cold(new KhoOptions { Variant = KhoVariant.KhoV1 });
        Assert.Equal(Errno.ENOENT, k.Abort());
        Assert.Equal(Errno.Ok, k.PreserveFolio(new Folio(1, 0)));
        Assert.Equal(Errno.Ok, k.PreserveFolio(new Folio(0x200, 9)));
        foreach (ulong q in new ulong[] { 3, 5, 7, 9 }) k.PreserveFolio(new Folio(q, 0));
        Assert.Equal(Errno.Ok, k.AddSubtree("LUO", 0x6000000, 0));
        Assert.Equal(Errno.Ok, k.Finalize());
        Assert.Equal(Errno.EEXIST, k.Finalize());
        Assert.Equal(Errno.EBUSY, k.PreserveFolio(new Folio(11, 0)));
        Assert.Equal(Errno.EBUSY, k.UnpreserveFolio(new Folio(1, 0)));
        var chunks = k.Xarray!.ChunkPages;
        Assert.Equal(2, chunks.Count);
        var a = k.Arena;
        Assert.Equal(chunks[1], a.ReadU64(chunks[0]));
        Assert.Equal(0UL, a.ReadU64(chunks[1]));
        Assert.Equal(0x0000_0001_0000_0000UL, a.ReadU64(chunks[0] + 8));     // order 0, num_elms 1
        Assert.Equal(0x0000_0001_0000_0009UL, a.ReadU64(chunks[1] + 8));     // order 9, num_elms 1
        Assert.Equal(0UL, a.ReadU64(chunks[0] + 16));
        ulong bm0 = a.ReadU64(chunks[0] + 24), bm9 = a.ReadU64(chunks[1] + 24);
        Assert.Equal(0xAA, a.PageForRead(bm0 >> 12)[0]);
        Assert.Equal(0x02, a.PageForRead(bm0 >> 12)[1]);
        Assert.Equal(0x02, a.PageForRead(bm9 >> 12)[0]);
        Assert.Equal(Errno.Ok, k.Abort());
        Assert.Equal(Errno.Ok, k.PreserveFolio(new Folio(11, 0)));
        Assert.Equal(Errno.Ok, k.Finalize());
        var n = k.Reboot();
        Assert.True(n.Incoming.IsKhoBoot, n.Incoming.Reason);
        Assert.True(n.RestoreFolio(0x200000, out var f));
        Assert.Equal(9, f.Order);
        Assert.Equal(Errno.Ok, n.RetrieveSubtree("LUO", out ulong p, out _));
        Assert.Equal(0x6000000UL, p);
    }

    [Fact]
    public void KhoV1_without_finalize_hands_over_nothing()
    {
        var k = Cold(new KhoOptions { Variant = KhoVariant.KhoV1 });
        k.PreserveFolio(new Folio(0x4000, 0));
        var n = k.Reboot();
        Assert.Equal(KhoBootReject.NoHandoff, n.Incoming.Reject);
        Assert.Equal(Errno.EOPNOTSUPP, Cold().Finalize());
    }
}
