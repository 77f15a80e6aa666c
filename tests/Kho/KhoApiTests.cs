using LuoModel.Kho;
using static LuoModel.Tests.Kho.KhoTestKit;

namespace LuoModel.Tests.Kho;

/// <summary>kho.md §2.1–§2.4, §2.8: results, errnos, warnings and documented leftovers.</summary>
public class KhoApiTests
{
    [Fact]
    public void Cold_boot_fdt_page_equals_spec_image_with_actual_addresses()
    {
        var k = Cold();
        Assert.Equal(0x100000UL, k.Tree!.Root);
        Assert.Equal(0x101000UL, k.FdtPhys);
        Assert.Equal(0x107000UL, k.MetadataPhys);
        Assert.Equal(FdtGoldenTests.ExpectedAfterInit(0x100000, 0x107000), k.OutgoingFdt());
        Assert.Equal(1u, k.KexecCount);
        Assert.Equal([(0x101000UL, 0), (0x107000UL, 0)], k.PreservedBlocks());
    }

    [Fact]
    public void Compatible_is_a_setting_and_variants_default()
    {
        Assert.Equal("kho-v4", new KhoOptions().EffectiveCompatible);
        Assert.Equal("kho-v3", new KhoOptions { Variant = KhoVariant.M }.EffectiveCompatible);
        Assert.Equal("kho-v1", new KhoOptions { Variant = KhoVariant.KhoV1 }.EffectiveCompatible);
        var k = Cold(new KhoOptions { Compatible = "kho-v2" });
        Assert.Equal("kho-v2", System.Text.Encoding.ASCII.GetString(k.OutgoingFdt(), 0x4C, 6));
    }

    [Fact]
    public void Preserve_folio_is_idempotent_and_unpreserve_removes_it()
    {
        var k = Cold();
        var f = Page(0x4000, 2);
        Assert.Equal(Errno.Ok, k.PreserveFolio(f));
        Assert.Equal(Errno.Ok, k.PreserveFolio(f));
        Assert.Contains((f.Phys, 2), Keys(k));
        Assert.Equal(Errno.Ok, k.UnpreserveFolio(f));
        Assert.DoesNotContain((f.Phys, 2), Keys(k));   // no reference counting (§5 inv. 3)
        Assert.Empty(k.Warnings);
        Assert.Equal(Errno.Ok, k.UnpreserveFolio(f));  // clear bit on existing path: silent
        Assert.Empty(k.Warnings);
        Assert.Equal(Errno.Ok, k.UnpreserveFolio(Page(1UL << 20, 20))); // missing path: WARN
        Assert.Equal(KhoWarning.UnpreserveMissingPath, Assert.Single(k.Warnings).Kind);
    }

    [Fact]
    public void Disabled_kho_reports_einval_and_contract_violations()
    {
        var k = Cold(new KhoOptions { Enabled = false });
        Assert.False(k.IsEnabled);
        Assert.Equal(Errno.EINVAL, k.PreserveFolio(Page(0x4000)));
        Assert.Equal(Errno.EINVAL, k.PreserveFolio(Page(0x4001)));
        Assert.Equal(Errno.EINVAL, k.PreservePages(0x4000, 4));
        Assert.Single(k.Warnings, w => w.Kind == KhoWarning.NotInitialized); // WARN once
        Assert.Equal(Errno.EINVAL, k.AllocPreserve(100, out ulong p));
        Assert.Equal(0UL, p);
        ulong va = k.Vmalloc.Allocate(2);
        var desc = new KhoVmalloc();
        Assert.Equal(Errno.ENOMEM, k.PreserveVmalloc(va, ref desc));
        Assert.Equal(Errno.EFAULT, k.AddSubtree("x", 0x5000, 8));
        Assert.Contains(k.Warnings, w => w.Kind == KhoWarning.NullFdt);
        k.UnpreserveFolio(Page(0x4000));
        Assert.Equal(KhoWarning.NotInitialized, k.Warnings[^1].Kind);
    }

    [Fact]
    public void Debug_scratch_check_rejects_overlap_without_state_change()
    {
        var k = Cold(new KhoOptions { DebugScratchCheck = true });
        var s = k.Scratch[0];
        var before = Keys(k);
        Assert.Equal(Errno.EINVAL, k.PreserveFolio(Folio.FromPhys(s.Start, 0)));
        Assert.Equal(Errno.EINVAL, k.PreservePages((s.Start >> 12) - 1, 2));
        Assert.Equal(before, Keys(k));
        Assert.All(k.Warnings, w => Assert.Equal(KhoWarning.ScratchOverlap, w.Kind));
        Assert.Equal(2, k.Warnings.Count);
        Assert.Equal(Errno.Ok, k.PreserveFolio(Folio.FromPhys(s.End, 0)));        // half-open
        var plain = Cold();
        Assert.Equal(Errno.Ok, plain.PreserveFolio(Folio.FromPhys(plain.Scratch[0].Start, 0))); // check off
    }

    [Fact]
    public void Preserve_pages_split_and_unpreserve_same_arguments()
    {
        var k = Cold();
        var before = Keys(k);
        Assert.Equal(Errno.Ok, k.PreservePages(0x4003, 8));
        Assert.Equal(before.Union([(0x4003000UL, 0), (0x4004000UL, 2), (0x4008000UL, 1), (0x400A000UL, 0)]).ToHashSet(), Keys(k));
        Assert.Equal(Errno.Ok, k.UnpreservePages(0x4003, 8));
        Assert.Equal(before, Keys(k));
        Assert.Equal(Errno.Ok, k.PreservePages(0x4000, 0));
        Assert.Equal(before, Keys(k));
    }

    [Fact]
    public void Preserve_pages_at_pfn_zero_is_rejected()
    {
        var k = Cold();
        Assert.Equal(Errno.EINVAL, k.PreservePages(0, 4));
        Assert.Equal(KhoWarning.UndefinedPfnZero, Assert.Single(k.Warnings).Kind);
        Assert.False(k.Reboot().RestorePages(0, 4));
    }

    [Fact]
    public void Overlapping_preservations_coexist()
    {
        var k = Cold();
        k.PreservePages(0x4004, 4);
        k.PreservePages(0x4006, 4);
        var keys = Keys(k);
        Assert.Contains((0x4004000UL, 2), keys);
        Assert.Contains((0x4006000UL, 1), keys);
        Assert.Contains((0x4008000UL, 1), keys);
    }

    [Fact]
    public void Failed_preserve_pages_rolls_back_keys_but_keeps_node_pages()
    {
        var k = Cold();
        // pfns 0x1FFFE..0x20001: blocks (0x1FFFE,o1) on a fresh 5-page path, then (0x20000,o1) needing a new leaf
        var before = Keys(k);
        int nodesBefore = k.Tree!.NodePages.Count;
        k.Pages.InjectFailure(succeedFirst: 5);
        Assert.Equal(Errno.ENOMEM, k.PreservePages(0x1FFFE, 4));
        Assert.Equal(before, Keys(k));
        Assert.Equal(nodesBefore + 5, k.Tree.NodePages.Count); // leftover: pages created for block 0 stay (§2.3)
    }

    [Fact]
    public void Alloc_preserve_errors_and_result()
    {
        var k = Cold();
        Assert.Equal(Errno.EINVAL, k.AllocPreserve(0, out _));
        Assert.Equal(Errno.E2BIG, k.AllocPreserve((4096UL << 10) + 1, out _));
        var before = Keys(k);
        k.Pages.InjectFailure(0);
        Assert.Equal(Errno.ENOMEM, k.AllocPreserve(4096, out _));
        Assert.Equal(before, Keys(k));
        k.Arena.Fill(0x200000, 0x10000, 0xEE); // dirty memory: the result must still be zeroed
        Assert.Equal(Errno.Ok, k.AllocPreserve(5000, out ulong p));
        Assert.Equal(0UL, p % 8192);
        var buf = new byte[8192];
        k.Arena.Read(p, buf);
        Assert.True(buf.AsSpan().IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(before.Append((p, 1)).ToHashSet(), Keys(k));
        k.UnpreserveFree(p);
        Assert.Equal(before, Keys(k));
        k.UnpreserveFree(0);
        k.UnpreserveFree(0x12345000);
        Assert.Equal(KhoWarning.NotAnAllocPreserveFolio, Assert.Single(k.Warnings).Kind);
    }

    [Fact]
    public void Old_instance_is_unusable_after_kexec()
    {
        var k = Cold();
        var next = k.Reboot();
        Assert.True(k.IsDead);
        Assert.Throws<InvalidOperationException>(() => k.PreserveFolio(Page(0x4000)));
        Assert.Throws<InvalidOperationException>(() => k.Kexec(out _));
        Assert.True(next.Incoming.IsKhoBoot);
    }
}
