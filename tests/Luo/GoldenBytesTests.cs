using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Byte-level checks of what a reboot writes into the arena, expected bytes built by hand from
/// luo.md §5.2–§5.5 and §6.4 (not by the model's writers).</summary>
public class GoldenBytesTests : LuoTestBase
{
    private static void U64(byte[] b, int off, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(off), v);
    private static void Str(byte[] b, int off, string s) => System.Text.Encoding.ASCII.GetBytes(s).CopyTo(b, off);
    private byte[] Page(ulong phys) => K.Arena.PageForRead(phys >> 12).ToArray();

    [Fact]
    public void Root_blocks_entries_memfd_record_folios_chunk_and_flb_page()
    {
        int dev = OpenDev();
        int s = Create(dev, "ab");
        Create(dev, "e");
        int m = Memfd("hello");
        Assert.Equal(3, K.Lseek(P, m, 3, MemfdConsts.SEEK_SET));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 0x1122334455667788));
        ulong dataPfn = ((MemfdFile)P.FileOf(m)!).Inode.Pages[0].Pfn;
        var priv = (MemfdPrivate)K.Luo.Outgoing.Sessions[0].Files[0].PrivateData!;
        ulong arrayPage = K.Kho.Vmalloc.Find(priv.ArrayAddr)!.Pages[0];
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));

        ulong root = K.Luo.OutRootPhys, flb = K.Luo.OutFlbPhys;
        ulong sblk = K.Luo.Outgoing.Blocks!.Blocks[0];
        ulong fblk = K.Luo.Outgoing.Sessions[0].FileBlocks!.Blocks[0];
        ulong ser = K.Luo.Outgoing.Sessions[0].Files[0].SerializedData;
        ulong chunk = priv.Descriptor.First;

        var expRoot = new byte[4096];
        Str(expRoot, 0, "luo-v5");
        U64(expRoot, 8, 1);
        U64(expRoot, 16, sblk);
        U64(expRoot, 24, flb);
        Assert.Equal(expRoot, Page(root));

        var expS = new byte[4096];
        U64(expS, 0, 0);
        U64(expS, 8, 2);
        Str(expS, 16, "ab");
        U64(expS, 16 + 64, fblk);
        U64(expS, 16 + 72, 1);
        Str(expS, 16 + 80, "e");
        Assert.Equal(expS, Page(sblk));

        var expF = new byte[4096];
        U64(expF, 8, 1);
        Str(expF, 16, "memfd-v2");
        U64(expF, 16 + 48, ser);
        U64(expF, 16 + 56, 0x1122334455667788);
        Assert.Equal(expF, Page(fblk));

        var expM = new byte[4096];
        U64(expM, 0, 3);          // pos at freeze
        U64(expM, 8, 5);          // size
        BinaryPrimitives.WriteUInt32LittleEndian(expM.AsSpan(16), 1); // F_SEAL_SEAL (no MFD_ALLOW_SEALING)
        U64(expM, 24, 1);         // nr_folios
        U64(expM, 32, chunk);
        BinaryPrimitives.WriteUInt32LittleEndian(expM.AsSpan(40), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(expM.AsSpan(44), 1);
        Assert.Equal(expM, Page(ser));

        var expA = new byte[4096];
        U64(expA, 0, dataPfn | (3UL << 52));
        Assert.Equal(expA, Page(arrayPage));

        var expC = new byte[4096];
        U64(expC, 8, arrayPage);
        Assert.Equal(expC, Page(chunk));

        var expFlb = new byte[4096];
        U64(expFlb, 0, 1);
        Assert.Equal(expFlb, Page(flb));

        var data = new byte[4096];
        Str(data, 0, "hello");
        Assert.Equal(data, Page(dataPfn << 12));

        byte[] fdt = K.Kho.OutgoingFdt();
        int node = LuoModel.Fdt.Fdt.SubnodeOffset(fdt, 0, "LUO");
        Assert.True(node > 0);
        Assert.True(LuoModel.Fdt.Fdt.GetProp(fdt, node, "preserved-data", out var pd) >= 0);
        Assert.Equal(root, BinaryPrimitives.ReadUInt64LittleEndian(pd));
        Assert.True(LuoModel.Fdt.Fdt.GetProp(fdt, node, "blob-size", out var bs) >= 0);
        Assert.Equal(32UL, BinaryPrimitives.ReadUInt64LittleEndian(bs));
    }

    [Fact]
    public void Flb_entries_are_written_for_counts_above_zero()
    {
        var h = K.TestHandler!;
        var a = new CountingFlb("flb-a");
        var b = new CountingFlb("flb-b");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(h, a));
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(h, b));
        Assert.Equal(Errno.EEXIST, K.Luo.RegisterFlb(h, a));
        Assert.Equal(Errno.EEXIST, K.Luo.RegisterFlb(h, new CountingFlb("flb-a")));
        int dev = OpenDev();
        int s = Create(dev, "f");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 1), 1));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 2), 2));
        Assert.Equal((1, 2L), (a.Preserves, a.OutgoingCount));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        var exp = new byte[4096];
        U64(exp, 0, 1);
        U64(exp, 8, 2);
        Str(exp, 16, "flb-a");
        U64(exp, 16 + 48, 0xA0);
        U64(exp, 16 + 56, 2);
        Str(exp, 80, "flb-b");
        U64(exp, 80 + 48, 0xA0);
        U64(exp, 80 + 56, 2);
        Assert.Equal(exp, Page(K.Luo.OutFlbPhys));
    }

    [Fact]
    public void Flb_limit_is_63()
    {
        var h = K.TestHandler!;
        for (int i = 0; i < 63; i++) Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(h, new CountingFlb($"f{i}")));
        Assert.Equal(Errno.ENOSPC, K.Luo.RegisterFlb(h, new CountingFlb("f63")));
    }

    internal sealed class CountingFlb(string name) : LiveupdateFlb(name)
    {
        public int Preserves, Unpreserves, Finishes;
        public override Errno Preserve(LiveupdateFlbOpArgs args) { Preserves++; args.Data = 0xA0; args.Obj = this; return Errno.Ok; }
        public override void Unpreserve(LiveupdateFlbOpArgs args) => Unpreserves++;
        public override Errno Retrieve(LiveupdateFlbOpArgs args) { args.Obj = args.Data; return Errno.Ok; }
        public override void Finish(LiveupdateFlbOpArgs args) => Finishes++;
    }
}
