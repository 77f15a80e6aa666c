using System.Globalization;
using LuoModel.Cli;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Cli;

/// <summary><c>luo image dump</c> on the LUO side: corrupt images give a clear message and exit code 4, never an
/// exception or a hang; a handover without LUO says so.</summary>
public class ImageDumpLuoTests
{
    private static (int Code, string Out, string Err) Dump(Action<PhysicalArena, Kernel.Kernel>? corrupt, KernelConfig? config = null, bool luo = true)
    {
        var k = Kernel.Kernel.ColdBoot(config ?? new KernelConfig { DramBytes = 1UL << 30 });
        var p = k.CreateProcess();
        if (luo)
        {
            int dev = (int)LuoSyscalls.OpenDevice(k, p);
            Assert.Equal(0, LuoSyscalls.CreateSession(k, p, dev, "s", out int s));
            Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(k, p, s, 7, "x"));
        }
        Assert.Equal(0, k.Reboot(p, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        string path = Path.Combine(Path.GetTempPath(), $"luo-dump-{Guid.NewGuid():N}.img");
        try
        {
            k.Kexec(null, arena =>
            {
                corrupt?.Invoke(arena, k);
                ArenaImage.Save(arena, path);
            });
            using var o = new StringWriter(CultureInfo.InvariantCulture);
            using var e = new StringWriter(CultureInfo.InvariantCulture);
            int code = ImageCommands.Dump(path, o, e);
            return (code, o.ToString(), e.ToString());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Looping_session_chain_exits_4_with_the_reason()
    {
        var (code, o, e) = Dump((a, k) => a.WriteU64(k.Luo.Outgoing.Blocks!.HeadPa, k.Luo.Outgoing.Blocks!.HeadPa));
        Assert.Equal(4, code);
        ulong b = 0x10a000;
        Assert.Contains($"  block @ 0x{b:x}: next 0x{b:x}, count 1/51\n", o.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("LUO problems: 1\n  BootPanic: session block chain: kho_block_set_restore -EINVAL: the chain loops back to block 0x10a000\n", o.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("LUO verdict: the next kernel panics at boot (luo_restore_fail)", o, StringComparison.Ordinal);
        Assert.Equal("luo image dump: the next kernel would not accept the LUO handover: BootPanic: session block chain: kho_block_set_restore -EINVAL: the chain loops back to block 0x10a000",
            e.ReplaceLineEndings("\n").TrimEnd('\n'));
    }

    [Fact]
    public void Garbage_memfd_record_is_printed_with_retrieve_problems_and_exit_0()
    {
        var (code, o, e) = Dump((a, k) =>
        {
            ulong ser = k.Luo.Outgoing.Sessions[0].Files[0].SerializedData;
            a.WriteU64(ser + MemfdLuoSer.NrFoliosOffset, 1UL << 40);
            a.WriteU64(ser + MemfdLuoSer.FoliosOffset, 0xFFFF_FFFF_F000);
        });
        Assert.Equal(0, code); // boot and first open are fine; only RETRIEVE_FD of that memfd fails
        Assert.Equal("", e);
        Assert.Contains("nr_folios 1099511627776", o, StringComparison.Ordinal);
        Assert.Contains("RetrieveFails: session [0] \"s\" file [0] token 0x7: kho_restore_vmalloc fails: chunk 0xfffffffff000 is not a page inside memory (-EINVAL)", o, StringComparison.Ordinal);
        Assert.Contains("LUO verdict: accepted, but some RETRIEVE_FD calls will fail", o, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_handler_exits_4()
    {
        var (code, _, e) = Dump((a, k) => a.Write(k.Luo.Outgoing.Sessions[0].FileBlocks!.HeadPa + KhoBlockHeaderSer.Size, "bogus-v9\0"u8));
        Assert.Equal(4, code);
        Assert.Contains("FirstOpenFails: session [0] \"s\" file [0]: no handler registers \"bogus-v9\" (-ENOENT)", e, StringComparison.Ordinal);
    }

    [Fact]
    public void Handover_without_luo_says_so()
    {
        var (code, o, _) = Dump(null, new KernelConfig { DramBytes = 1UL << 30, Liveupdate = null }, luo: false);
        Assert.Equal(0, code);
        Assert.Contains("LUO: no \"LUO\" subtree: the next kernel has no incoming LUO data", o, StringComparison.Ordinal);
    }

    [Fact]
    public void Fdt_era_image_prints_the_luo_fdt()
    {
        var (code, o, e) = Dump(null, new KernelConfig { DramBytes = 1UL << 30, Luo = new LuoOptions { Abi = LuoAbi.FdtV1 } });
        Assert.Equal(0, code);
        Assert.Equal("", e);
        string text = o.ReplaceLineEndings("\n");
        Assert.Contains("format luo-v1\nLUO FDT as DTS:\n  /dts-v1/;\n  / {\n  \tcompatible = \"luo-v1\";\n", text, StringComparison.Ordinal);
        Assert.Contains("luo-v1 root: liveupdate-number 1, session area 0x", text, StringComparison.Ordinal);
        Assert.Contains(": count 1\nsessions: 1\n  [0] \"s\" @ 0x", text, StringComparison.Ordinal);
        Assert.Contains("      [0] token 0x7 \"memfd-v2\" data 0x", text, StringComparison.Ordinal);
    }
}
