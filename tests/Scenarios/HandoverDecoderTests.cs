using System.Text;
using LuoModel.Fdt;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Tests.Scenarios;

/// <summary>
/// <see cref="HandoverDecoder"/> on real handovers written by the model, clean and corrupted between the jump
/// and the next boot. Each corruption is cross-checked against what the next kernel of the model really does
/// (panic, EIO at first open, failing RETRIEVE_FD), so the decoder's verdicts are the kernel's.
/// </summary>
public class HandoverDecoderTests
{
    private const string Text = "hello handover";

    private sealed record Outcome(LuoHandover Luo, Kernel.Kernel Next)
    {
        /// <summary>"panic", "open -EIO", "retrieve -E…" or "ok" for the next boot.</summary>
        public string Kernel()
        {
            if (Next.Panicked) return "panic";
            var p = Next.CreateProcess();
            long dev = LuoSyscalls.OpenDevice(Next, p);
            if (dev < 0) return "open " + Syscalls.ResultText(dev);
            if (LuoSyscalls.RetrieveSession(Next, p, (int)dev, "a", out int s) != 0) return "retrieve session failed";
            long rc = LuoSyscalls.RestoreAndVerifyMemfd(Next, p, s, 1, Text);
            return rc < 0 ? "retrieve " + Syscalls.ResultText(rc) : "ok";
        }
    }

    /// <summary>Session "a" (memfd token 1 holding <see cref="Text"/>, test file token 2) and empty session
    /// "b"; reboot; <paramref name="corrupt"/> edits the arena at the handover; decode; boot the next kernel.</summary>
    private static Outcome Handover(Action<PhysicalArena, Kernel.Kernel>? corrupt = null, KernelConfig? config = null)
    {
        var k = Kernel.Kernel.ColdBoot(config ?? new KernelConfig { DramBytes = 1UL << 30 });
        var p = k.CreateProcess();
        int dev = (int)LuoSyscalls.OpenDevice(k, p);
        Assert.Equal(0, LuoSyscalls.CreateSession(k, p, dev, "a", out int a));
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(k, p, a, 1, Text));
        Assert.Equal(0, LuoSyscalls.PreserveFd(k, p, a, (int)k.CreateTestFile(p, 0xABCD, "t"), 2));
        Assert.Equal(0, LuoSyscalls.CreateSession(k, p, dev, "b", out _));
        Assert.Equal(0, k.Reboot(p, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        LuoHandover? h = null;
        var next = k.Kexec(null, arena =>
        {
            corrupt?.Invoke(arena, k);
            h = HandoverDecoder.Decode(arena, out _);
        });
        return new Outcome(h!, next);
    }

    private static LuoSession Out(Kernel.Kernel k, int i) => k.Luo.Outgoing.Sessions[i];

    private static HandoverProblem Single(LuoHandover h, HandoverProblemKind kind) =>
        Assert.Single(h.Problems, p => p.Kind == kind);

    [Fact]
    public void Clean_handover_decodes_every_structure()
    {
        var o = Handover();
        var h = o.Luo;
        Assert.True(h.Present);
        Assert.True(h.Accepted);
        Assert.Empty(h.Problems);
        Assert.Equal("luo-v5", h.Abi);
        Assert.Equal(32UL, h.BlobSize);
        Assert.Equal(("luo-v5", 1UL), (h.Root!.Compatible, h.Root.LiveupdateNum));
        var block = Assert.Single(h.SessionBlocks);
        Assert.Equal((h.Root.SessionsPa, 0UL, 2UL, 51), (block.Phys, block.Next, block.Count, block.Capacity));
        Assert.Equal(["a", "b"], h.Sessions.Select(s => s.Name));
        Assert.Equal((0UL, 0UL), (h.Sessions[1].FilesPa, h.Sessions[1].FileCount));
        var files = h.Sessions[0].Files;
        Assert.Equal([("memfd-v2", 1UL), ("test-file-v1", 2UL)], files.Select(f => (f.Compatible, f.Token)));
        Assert.Equal(0xABCDUL, files[1].Data);
        var m = files[0].Memfd!;
        Assert.Equal((0UL, 4096UL, Seals.F_SEAL_SEAL, 1UL), (m.Pos, m.Size, m.Seals, m.NrFolios));
        Assert.Equal((1u, (ushort)KhoVmalloc.FlagAlloc, (ushort)0), (m.Folios.TotalPages, m.Folios.Flags, m.Folios.Order));
        var folio = Assert.Single(m.Entries);
        Assert.Equal((MemfdLuoFolioSer.FlagDirty | MemfdLuoFolioSer.FlagUptodate, 0UL, true), (folio.Flags, folio.PageIndex, folio.Preserved));
        // the folio holds the text: the decoder points at the very bytes the next kernel maps
        var bytes = new byte[Text.Length + 1];
        o.Next.Arena.Read(folio.Phys, bytes);
        Assert.Equal(Encoding.ASCII.GetBytes(Text + "\0"), bytes);
        Assert.NotNull(h.Flb);
        Assert.Equal((1UL, 0UL), (h.Flb!.PageCount, h.Flb.Count));
        Assert.Equal("ok", o.Kernel());
    }

    [Fact]
    public void Wrong_root_compatible_is_a_boot_panic()
    {
        var o = Handover((a, k) => a.Write(k.Luo.OutRootPhys, "luo-v4\0\0"u8));
        var p = Single(o.Luo, HandoverProblemKind.BootPanic);
        Assert.Equal("compatible \"luo-v4\" is not \"luo-v5\" (-EINVAL)", p.Message);
        Assert.Empty(o.Luo.Sessions);
        Assert.Equal("panic", o.Kernel());
    }

    [Fact]
    public void Blob_size_below_32_is_a_boot_panic()
    {
        var o = Handover((a, k) =>
        {
            ulong fdtPhys = a.Handoff!.Value.FdtPhys;
            byte[] page = a.PageForWrite(fdtPhys >> PhysicalArena.PageShift);
            Assert.Equal(0, FdtRw.SetPropU64Le(page, FdtRo.SubnodeOffset(page, 0, "LUO"), "blob-size"u8, 16));
        });
        Assert.Equal("blob-size 16 is smaller than 32 (-EINVAL)", Single(o.Luo, HandoverProblemKind.BootPanic).Message);
        Assert.Equal("panic", o.Kernel());
    }

    [Theory]
    [InlineData("count0", "-EINVAL: block 0x{0:x} has count 0 (1..51 allowed)")]
    [InlineData("count52", "-EINVAL: block 0x{0:x} has count 52 (1..51 allowed)")]
    [InlineData("loop", "-EINVAL: the chain loops back to block 0x{0:x}")]
    [InlineData("outside", "-EINVAL: block 0xfffff000000 is not a page inside memory")]
    public void Broken_session_chain_is_a_boot_panic(string how, string message)
    {
        ulong blockPhys = 0;
        var o = Handover((a, k) =>
        {
            blockPhys = k.Luo.Outgoing.Blocks!.HeadPa;
            switch (how)
            {
                case "count0": a.WriteU64(blockPhys + KhoBlockHeaderSer.CountOffset, 0); break;
                case "count52": a.WriteU64(blockPhys + KhoBlockHeaderSer.CountOffset, 52); break;
                case "loop": a.WriteU64(blockPhys + KhoBlockHeaderSer.NextOffset, blockPhys); break;
                default: a.WriteU64(k.Luo.OutRootPhys + LuoSerRoot.SessionsPaOffset, 0xFFFFF000000); break;
            }
        });
        var p = Single(o.Luo, HandoverProblemKind.BootPanic);
        Assert.Equal("session block chain", p.Where);
        Assert.Equal("kho_block_set_restore " + string.Format(System.Globalization.CultureInfo.InvariantCulture, message, blockPhys), p.Message);
        Assert.Equal("panic", o.Kernel());
    }

    [Fact]
    public void File_count_mismatch_fails_the_first_open()
    {
        var o = Handover((a, k) => a.WriteU64(k.Luo.Outgoing.Blocks!.HeadPa + KhoBlockHeaderSer.Size + LuoSessionSer.CountOffset, 3));
        var p = Single(o.Luo, HandoverProblemKind.FirstOpenFails);
        Assert.Equal(("session [0] \"a\"", "2 file entries but file_set_ser.count is 3 (-EINVAL)"), (p.Where, p.Message));
        Assert.False(o.Luo.Accepted);
        Assert.Equal("open -EIO", o.Kernel());
    }

    [Fact]
    public void Unknown_handler_fails_the_first_open()
    {
        var o = Handover((a, k) =>
        {
            var field = new byte[LuoFileSer.CompatibleLength];
            LuoStrings.ToField("nosuch-v1", field);
            a.Write(Out(k, 0).FileBlocks!.HeadPa + KhoBlockHeaderSer.Size + LuoFileSer.Size, field); // the test file's entry
        });
        Assert.Equal("no handler registers \"nosuch-v1\" (-ENOENT)", Single(o.Luo, HandoverProblemKind.FirstOpenFails).Message);
        Assert.Equal("open -EIO", o.Kernel());
    }

    [Fact]
    public void Duplicate_session_name_fails_the_first_open()
    {
        var o = Handover((a, k) => a.Write(k.Luo.Outgoing.Blocks!.HeadPa + KhoBlockHeaderSer.Size + LuoSessionSer.Size, "a\0"u8));
        var p = Single(o.Luo, HandoverProblemKind.FirstOpenFails);
        Assert.Equal(("session [1] \"a\"", "duplicate session name (-EEXIST)"), (p.Where, p.Message));
        Assert.Equal("open -EIO", o.Kernel());
    }

    [Fact]
    public void Looping_file_chain_fails_the_first_open()
    {
        var o = Handover((a, k) => a.WriteU64(Out(k, 0).FileBlocks!.HeadPa, Out(k, 0).FileBlocks!.HeadPa));
        Assert.StartsWith("file chain: kho_block_set_restore -EINVAL: the chain loops back to block 0x", Single(o.Luo, HandoverProblemKind.FirstOpenFails).Message);
        Assert.Equal("open -EIO", o.Kernel());
    }

    [Fact]
    public void Unpreserved_folio_fails_the_retrieve()
    {
        var o = Handover((a, k) =>
        {
            var desc = MemfdLuoSer.ReadFrom(ReadAt(a, Out(k, 0).Files[0].SerializedData, MemfdLuoSer.SizeV2), MemfdVersion.V2).Folios;
            ulong arrayPage = a.ReadU64(desc.First + KhoVmallocChunk.PhysOffset);
            a.WriteU64(arrayPage, 0x30000UL); // pfn 0x30000 with no flags: a page nobody preserved
        });
        var p = Single(o.Luo, HandoverProblemKind.RetrieveFails);
        Assert.Equal("folio [0] pfn 0x30000 is not preserved (kho_restore_folio fails: -EIO)", p.Message);
        Assert.True(o.Luo.Accepted);
        Assert.Equal("retrieve -EIO", o.Kernel());
    }

    [Fact]
    public void Looping_vmalloc_chunks_fail_the_retrieve()
    {
        var o = Handover((a, k) =>
        {
            ulong first = MemfdLuoSer.ReadFrom(ReadAt(a, Out(k, 0).Files[0].SerializedData, MemfdLuoSer.SizeV2), MemfdVersion.V2).Folios.First;
            a.WriteU64(first + KhoVmallocChunk.NextOffset, first);
        });
        Assert.StartsWith("kho_restore_vmalloc fails: chunk chain loops back to 0x", Single(o.Luo, HandoverProblemKind.RetrieveFails).Message);
        Assert.Equal("retrieve -EINVAL", o.Kernel());
    }

    [Fact]
    public void Huge_nr_folios_is_reported_without_reading_past_the_array()
    {
        var o = Handover((a, k) => a.WriteU64(Out(k, 0).Files[0].SerializedData + MemfdLuoSer.NrFoliosOffset, ulong.MaxValue));
        Assert.Contains(o.Luo.Problems, p => p.Message == "nr_folios 18446744073709551615 but the array holds 256 entries");
        Assert.Equal(256, o.Luo.Sessions[0].Files[0].Memfd!.Entries.Count);
    }

    private static byte[] ReadAt(PhysicalArena a, ulong phys, int n)
    {
        var b = new byte[n];
        a.Read(phys, b);
        return b;
    }

    [Fact]
    public void Fdt_era_handover_shows_the_luo_fdt_and_its_session_area()
    {
        var o = Handover(config: new KernelConfig { DramBytes = 1UL << 30, Luo = new LuoOptions { Abi = LuoAbi.FdtV1 } });
        var h = o.Luo;
        Assert.True(h.Accepted, string.Join("\n", h.Problems));
        Assert.Equal("luo-v1", h.Abi);
        Assert.Null(h.BlobSize); // kho-v1 subtrees carry only "fdt"
        Assert.Contains("compatible = \"luo-v1\";", h.FdtDts, StringComparison.Ordinal);
        Assert.Contains("luo-session {", h.FdtDts, StringComparison.Ordinal);
        Assert.Equal(2UL, h.V1SessionCount);
        Assert.Empty(h.SessionBlocks);
        Assert.Equal(["a", "b"], h.Sessions.Select(s => s.Name));
        Assert.Equal(["memfd-v2", "test-file-v1"], h.Sessions[0].Files.Select(f => f.Compatible));
        Assert.Equal(4096UL, h.Sessions[0].Files[0].Memfd!.Size);
        Assert.Equal("ok", o.Kernel());
    }

    [Fact]
    public void Fdt_era_wrong_root_compatible_is_a_boot_panic()
    {
        var o = Handover((a, k) =>
        {
            byte[] page = a.PageForWrite(k.Luo.OutRootPhys >> PhysicalArena.PageShift);
            Assert.Equal(0, FdtRw.SetPropInplace(page, 0, "compatible"u8, "luo-v0\0"u8));
        }, new KernelConfig { DramBytes = 1UL << 30, Luo = new LuoOptions { Abi = LuoAbi.FdtV1 } });
        Assert.Equal("root compatible does not list \"luo-v1\"", Single(o.Luo, HandoverProblemKind.BootPanic).Message);
        Assert.Equal("panic", o.Kernel());
    }

    [Fact]
    public void Random_corruption_of_luo_pages_never_throws_or_hangs()
    {
        var rng = new Random(7);
        for (int round = 0; round < 80; round++)
        {
            var o = Handover((a, k) =>
            {
                var desc = MemfdLuoSer.ReadFrom(ReadAt(a, Out(k, 0).Files[0].SerializedData, MemfdLuoSer.SizeV2), MemfdVersion.V2).Folios;
                var pages = new List<ulong> { k.Luo.OutRootPhys, k.Luo.Outgoing.Blocks!.HeadPa, Out(k, 0).FileBlocks!.HeadPa, Out(k, 0).Files[0].SerializedData, desc.First, a.ReadU64(desc.First + 8), k.Luo.OutFlbPhys };
                for (int i = 0; i < 1 + rng.Next(6); i++)
                {
                    ulong at = pages[rng.Next(pages.Count)] + (ulong)(rng.Next(2) == 0 ? rng.Next(96) : rng.Next(4096));
                    a.Write(at, [(byte)rng.Next(256)]);
                }
            });
            Assert.True(o.Luo.Present);
            // the decoder's verdict is the kernel's: panic, EIO at the first open, or a working device
            string kernel = o.Kernel();
            string why = kernel + "\n" + string.Join("\n", o.Luo.Problems);
            bool panic = o.Luo.Problems.Any(p => p.Kind == HandoverProblemKind.BootPanic);
            bool eio = !panic && o.Luo.Problems.Any(p => p.Kind == HandoverProblemKind.FirstOpenFails);
            Assert.True(panic == (kernel == "panic"), why);
            Assert.True(eio == (kernel == "open -EIO"), why);
        }
    }
}
