using System.Buffers.Binary;
using LuoModel.Kho;
using static LuoModel.Tests.Kho.KhoTestKit;

namespace LuoModel.Tests.Kho;

/// <summary>kho.md §1.6–§1.7, §2.9–§2.10, §2.13, §4.5: kexec, incoming boot, restore, retrieve.</summary>
public class KexecTests
{
    [Fact]
    public void Preserved_random_folios_survive_and_everything_else_is_poison()
    {
        var k = Cold();
        var rng = new Random(1234);
        var folios = new List<(Folio F, byte[] Data)>();
        foreach (var (pfn, order) in new (ulong, int)[] { (0x4000, 0), (0x4010, 4), (0x8000, 9), (0x4001, 0) })
        {
            var f = new Folio(pfn, order);
            var data = new byte[f.Size];
            rng.NextBytes(data);
            k.Arena.Write(f.Phys, data);
            Assert.Equal(Errno.Ok, k.PreserveFolio(f));
            folios.Add((f, data));
        }
        k.Arena.Fill(0x5000000, 0x3000, 0x11);              // written but not preserved
        var handoffFdt = k.FdtPhys;
        var next = k.Reboot();
        Assert.True(next.Incoming.IsKhoBoot, next.Incoming.Reason);
        Assert.Equal(handoffFdt, next.Incoming.Handoff!.Value.FdtPhys);
        foreach (var (f, data) in folios)
        {
            Assert.True(next.RestoreFolio(f.Phys, out var got));
            Assert.Equal(f, got);
            var back = new byte[f.Size];
            next.Arena.Read(got.Phys, back);
            Assert.Equal(data, back);
            Assert.Equal(1, next.MemMap.GetRefCount(f.Pfn));
        }
        var junk = new byte[0x3000];
        next.Arena.Read(0x5000000, junk);
        Assert.True(junk.AsSpan().IndexOfAnyExcept(PhysicalArena.PoisonByte) < 0);
        var never = new byte[4096];
        next.Arena.Read(0x9000000, never);
        Assert.True(never.AsSpan().IndexOfAnyExcept(PhysicalArena.PoisonByte) < 0);
        // the scratch array and the FDT page are readable in place
        Assert.Equal(3, next.Incoming.ScratchArray.Count);
    }

    [Fact]
    public void Incoming_walk_stamps_heads_with_magic_and_order_and_reserves_blocks()
    {
        var k = Cold();
        k.PreserveFolio(new Folio(0x8000, 9));
        k.PreservePages(0x4003, 8);
        var next = k.Reboot();
        Assert.Equal(0x4B484F50_0000_0009UL, next.MemMap.GetPrivate(0x8000));
        Assert.Equal(0UL, next.MemMap.GetPrivate(0x8001));               // only the head
        Assert.Equal(0x4B484F50_0000_0002UL, next.MemMap.GetPrivate(0x4004));
        Assert.True(next.Pages.IsUsed(0x81FF));
        Assert.True(next.Pages.IsUsed(0x400A));
        Assert.Equal([(0x8000000UL, 9), (0x4004000UL, 2), (0x4008000UL, 1)],
            next.Incoming.Blocks.Where(b => b.Phys >= 0x4000000).Take(3));
        // incoming FDT page stays reserved and stamped (never restored in the radix era)
        Assert.Equal(0x4B484F50_0000_0000UL, next.MemMap.GetPrivate(0x101));
    }

    [Fact]
    public void Restore_folio_rules()
    {
        var k = Cold();
        k.PreserveFolio(new Folio(0x8000, 9));
        var next = k.Reboot();
        Assert.False(next.RestoreFolio(0x8001000, out _));                   // tail
        Assert.False(next.RestoreFolio(0x9000000, out _));                   // never preserved
        Assert.True(next.RestoreFolio(0x8000123, out var f));                 // sub-page offset in head is fine
        Assert.Equal(new Folio(0x8000, 9), f);
        Assert.Equal(0, next.MemMap.GetRefCount(0x8001));
        Assert.Equal(9, next.MemMap.GetOrder(0x8000));
        Assert.False(next.RestoreFolio(0x8000000, out _));                   // second call
        Assert.Equal(KhoWarning.RestoreBadMagic, Assert.Single(next.Warnings).Kind); // WARN once
        Assert.False(next.RestoreFolio(0x1_0000_0000_0000, out _));          // no page
        Assert.Equal(512UL, next.RestoredPages);
    }

    [Fact]
    public void Restore_pages_mismatch_cases()
    {
        var k = Cold();
        k.PreservePages(0x4004, 4);                 // (0x4004, o2)
        k.PreserveFolio(new Folio(0x4008, 0));
        k.PreserveFolio(new Folio(0x4009, 0));
        k.PreserveFolio(new Folio(0x4010, 0));      // for the no-rollback case
        var n = k.Reboot();
        Assert.True(n.RestorePages(0x4004000, 2));  // computed o1, stored o2: whole block restored
        for (ulong p = 0x4004; p < 0x4008; p++) Assert.Equal(1, n.MemMap.GetRefCount(p));
        Assert.True(n.RestorePages(0x4008000, 2));  // computed o1, stored o0: 0x4009 silently left
        Assert.Equal(0, n.MemMap.GetRefCount(0x4009));
        Assert.True(n.RestoreFolio(0x4009000, out _));
        Assert.False(n.RestorePages(0x4010000, 3)); // (0x4010,o1) ok, (0x4012,o0) no magic: fail, no rollback
        Assert.Equal(1, n.MemMap.GetRefCount(0x4010));
        Assert.Equal(0UL, n.MemMap.GetPrivate(0x4010));
        Assert.True(n.RestorePages(0x4010000, 0));  // nr 0 succeeds
    }

    [Fact]
    public void Subtrees_retrieve_and_kexec_metadata_chain()
    {
        var k = Cold(new KhoOptions { UtsRelease = "6.20.0-a" });
        Assert.Equal(Errno.Ok, k.AllocPreserve(100, out ulong blob));
        Assert.Equal(Errno.Ok, k.AddSubtree("LUO", blob, 100));
        Assert.Equal(Errno.EEXIST, k.AddSubtree("LUO", blob + 8, 1));
        Assert.Equal(Errno.EEXIST, k.AddSubtree(KhoKexecMetadata.Name, blob, 1));
        Assert.Equal(Errno.ENOENT, k.RetrieveSubtree("LUO", out _, out _)); // no incoming FDT on a cold boot
        var n = k.Reboot(new KhoOptions { UtsRelease = "6.20.0-b" });
        Assert.Equal(Errno.Ok, n.RetrieveSubtree("LUO", out ulong p, out ulong sz));
        Assert.Equal((blob, 100UL), (p, sz));
        Assert.Equal(Errno.ENOENT, n.RetrieveSubtree("LU", out _, out _));
        Assert.Equal(2u, n.KexecCount);
        Assert.Equal("6.20.0-a", n.PreviousRelease);
        var n3 = n.Reboot();
        Assert.Equal(3u, n3.KexecCount);
        Assert.Equal("6.20.0-b", n3.PreviousRelease);
        Assert.Equal(Errno.ENOENT, n3.RetrieveSubtree("LUO", out _, out _)); // not re-added
    }

    [Fact]
    public void Remove_subtree_restores_struct_bytes()
    {
        var k = Cold();
        var before = k.OutgoingFdt().AsSpan(0, 0xE9).ToArray();
        Assert.Equal(Errno.Ok, k.AddSubtree("X", 0x5000, 16));
        k.RemoveSubtree(0x6000);                                 // no match: no-op
        Assert.NotEqual(before, k.OutgoingFdt().AsSpan(0, 0xE9).ToArray());
        k.RemoveSubtree(0x5000);
        Assert.Equal(before, k.OutgoingFdt().AsSpan(0, 0xE9).ToArray());
    }

    [Theory]
    [InlineData(KhoVariant.N)]
    [InlineData(KhoVariant.M)]
    public void Page_full_behaviour_of_add_subtree(KhoVariant v)
    {
        var k = Cold(new KhoOptions { Variant = v });
        int added = 0;
        Errno rc;
        while ((rc = k.AddSubtree($"s{added:000}", 0x5000 + (ulong)added * 4096, 8)) == Errno.Ok) added++;
        Assert.Equal(68, added); // kho.md §2.11: 68 four-character names fit after kexec-metadata
        if (v == KhoVariant.N)
        {
            Assert.Equal(Errno.ENOMEM, rc);
        }
        else
        {
            Assert.Equal((Errno)3, rc);    // raw -FDT_ERR_NOSPACE
        }
        var n = k.Reboot();
        Assert.True(n.Incoming.IsKhoBoot);
        Errno r = n.RetrieveSubtree("s068", out ulong p, out _);
        if (v == KhoVariant.N) Assert.Equal(Errno.ENOENT, r);
        else { Assert.Equal(Errno.EINVAL, r); Assert.Equal(0x5000UL + 68 * 4096, p); } // half-built node
    }

    [Fact]
    public void Kexec_with_kho_disabled_passes_nothing()
    {
        var k = Cold(new KhoOptions { Enabled = false });
        Assert.Equal(Errno.Ok, k.Kexec(out var h));
        Assert.Null(h);
        var n = LuoModel.Kho.Kho.Boot(k.Arena, null, h);
        Assert.Equal(KhoBootReject.NoHandoff, n.Incoming.Reject);
        Assert.Equal(1u, n.KexecCount);
    }
}
